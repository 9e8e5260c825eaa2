// Criterion registries: name -> factory, seeded with the built-ins (see criterion.h).
#include "pruning/criterion.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <mutex>

#include "pruning/builtin_criteria.h"

namespace shears::pruning {

namespace {

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

template <typename Criterion>
class Registry {
 public:
  using Factory = std::function<std::shared_ptr<Criterion>(const std::string&)>;
  struct Entry {
    bool takes_argument = false;
    Factory factory;
  };

  Registry(const char* what, const std::vector<detail::BuiltinCriterion<Factory>>& builtins) : what_(what) {
    for (const auto& b : builtins) add(b.name, b.takes_argument, b.factory);
  }

  void add(const std::string& name, bool takes_argument, Factory factory) {
    std::lock_guard<std::mutex> lock(mutex_);
    SHEARS_CHECK(!name.empty() &&
                     std::all_of(name.begin(), name.end(),
                                 [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'; }),
                 "register_criterion", what_, " criterion name '", name, "' must be non-empty lower case [a-z0-9_]");
    SHEARS_CHECK(factory, "register_criterion", what_, " criterion '", name, "' has no factory");
    SHEARS_CHECK(entries_.count(name) == 0, "register_criterion", what_, " criterion '", name,
                 "' is already registered");
    entries_[name] = {takes_argument, std::move(factory)};
  }

  std::shared_ptr<Criterion> make(const std::string& text) {
    const std::string s = lower(text);
    const size_t colon = s.find(':');
    const std::string base = s.substr(0, colon);
    const std::string argument = colon == std::string::npos ? "" : s.substr(colon + 1);
    Entry entry;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      auto it = entries_.find(base);
      if (it == entries_.end()) fail("criterion", "unknown ", what_, " criterion '", text, "'; known: ", known());
      entry = it->second;
    }
    SHEARS_CHECK(entry.takes_argument || colon == std::string::npos, "criterion", what_, " criterion '", base,
                 "' takes no argument, got '", text, "'");
    auto c = entry.factory(argument);
    SHEARS_CHECK(c != nullptr, "criterion", "the factory of ", what_, " criterion '", base, "' returned null");
    return c;
  }

  std::vector<std::string> names() {
    std::lock_guard<std::mutex> lock(mutex_);
    std::vector<std::string> out;
    for (const auto& [name, e] : entries_) out.push_back(e.takes_argument ? name + "[:<arg>]" : name);
    return out;  // std::map: sorted
  }

 private:
  std::string known() const {  // mutex held
    std::string out;
    for (const auto& [name, e] : entries_)
      out += (out.empty() ? "" : ", ") + name + (e.takes_argument ? "[:<arg>]" : "");
    return out;
  }
  const char* what_;
  std::mutex mutex_;
  std::map<std::string, Entry> entries_;
};

Registry<BlockCriterion>& block_registry() {
  static Registry<BlockCriterion> r("block", detail::builtin_block_criteria());
  return r;
}
Registry<NeuronCriterion>& neuron_registry() {
  static Registry<NeuronCriterion> r("neuron", detail::builtin_neuron_criteria());
  return r;
}
Registry<HeadCriterion>& head_registry() {
  static Registry<HeadCriterion> r("head", detail::builtin_head_criteria());
  return r;
}

template <typename Criterion>
std::function<std::shared_ptr<Criterion>(const std::string&)> ignoring_argument(
    std::function<std::shared_ptr<Criterion>()> factory) {
  SHEARS_CHECK(factory, "register_criterion", "empty factory");
  return [factory](const std::string&) { return factory(); };
}

}  // namespace

void register_block_criterion(const std::string& name, BlockCriterionFactory factory) {
  block_registry().add(name, false, ignoring_argument<BlockCriterion>(std::move(factory)));
}
void register_block_criterion_with_argument(const std::string& name, BlockCriterionFactoryWithArgument factory) {
  block_registry().add(name, true, std::move(factory));
}
void register_neuron_criterion(const std::string& name, NeuronCriterionFactory factory) {
  neuron_registry().add(name, false, ignoring_argument<NeuronCriterion>(std::move(factory)));
}
void register_neuron_criterion_with_argument(const std::string& name, NeuronCriterionFactoryWithArgument factory) {
  neuron_registry().add(name, true, std::move(factory));
}
void register_head_criterion(const std::string& name, HeadCriterionFactory factory) {
  head_registry().add(name, false, ignoring_argument<HeadCriterion>(std::move(factory)));
}
void register_head_criterion_with_argument(const std::string& name, HeadCriterionFactoryWithArgument factory) {
  head_registry().add(name, true, std::move(factory));
}

std::shared_ptr<BlockCriterion> make_block_criterion(const std::string& name) { return block_registry().make(name); }
std::shared_ptr<NeuronCriterion> make_neuron_criterion(const std::string& name) { return neuron_registry().make(name); }
std::shared_ptr<HeadCriterion> make_head_criterion(const std::string& name) { return head_registry().make(name); }

std::vector<std::string> block_criterion_names() { return block_registry().names(); }
std::vector<std::string> neuron_criterion_names() { return neuron_registry().names(); }
std::vector<std::string> head_criterion_names() { return head_registry().names(); }

std::optional<uint64_t> parse_criterion_seed(const std::string& criterion, const std::string& argument) {
  if (argument.empty()) return std::nullopt;
  SHEARS_CHECK(argument.size() <= 19 &&
                   std::all_of(argument.begin(), argument.end(), [](char c) { return c >= '0' && c <= '9'; }),
               "criterion", criterion, ": the seed after ':' must be a non-negative integer, got '", argument, "'");
  return std::stoull(argument);
}

}  // namespace shears::pruning
