// JSON from untrusted files (safetensors headers, the config and logs in their metadata),
// parsed with limits: nesting depth at most kMaxJsonDepth and no duplicate key in any object
// (nlohmann would keep the last one silently), and excerpts for error messages that never
// format more than a bounded prefix. Deeply nested input used to overflow the stack in dump().
#pragma once
#include <cstddef>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tensor/error.h"

namespace shears::nn {

// Deeper documents are refused (docs/DESIGN.md, Hostile input); shears writes depth <= 4.
inline constexpr int kMaxJsonDepth = 64;

namespace detail {

// nlohmann's DOM builder with the limits checked on the way (SAX events): linear in the input.
// (Json::parse with a parser callback would do the same checks, but nlohmann 3.11's callback
// parser scans the parent container at every object end, which is quadratic: a config holding an
// array of 600,000 objects took minutes to refuse.)
template <typename Json>
class BoundedDomParser : public nlohmann::detail::json_sax_dom_parser<Json> {
  using Base = nlohmann::detail::json_sax_dom_parser<Json>;

 public:
  BoundedDomParser(Json& result, const char* op, const std::string& where, const char* what)
      : Base(result, /*allow_exceptions=*/true), op_(op), where_(where), what_(what) {}
  bool start_object(std::size_t n) {
    enter();
    keys_.emplace_back();
    return Base::start_object(n);
  }
  bool end_object() {
    keys_.pop_back();
    --depth_;
    return Base::end_object();
  }
  bool start_array(std::size_t n) {
    enter();
    return Base::start_array(n);
  }
  bool end_array() {
    --depth_;
    return Base::end_array();
  }
  bool key(typename Json::string_t& key) {
    if (!keys_.empty() && !keys_.back().insert(key).second)
      fail(op_, where_, ": duplicate key '", key.size() > 80 ? key.substr(0, 77) + "..." : key, "' in ", what_,
           " (each key may appear once)");
    return Base::key(key);
  }

 private:
  void enter() {
    if (depth_ >= kMaxJsonDepth)
      fail(op_, where_, ": ", what_, " nested deeper than ", kMaxJsonDepth, " levels (corrupt or hostile input)");
    ++depth_;
  }
  const char* op_;
  const std::string& where_;
  const char* what_;
  int depth_ = 0;
  std::vector<std::set<std::string>> keys_;  // the keys seen in each open object, innermost last
};

}  // namespace detail

// Json::parse(text) with limits: throws shears::Error "[op] <where>: <what> nested deeper than ..."
// or "... duplicate key 'k' in <what> ..."; malformed JSON still throws nlohmann's parse_error, so
// callers keep their own wording for it. Json is nlohmann::json or nlohmann::ordered_json.
// Linear time in the input.
template <typename Json>
Json parse_bounded_json(const std::string& text, const char* op, const std::string& where,
                        const char* what = "JSON") {
  Json result;
  detail::BoundedDomParser<Json> sax(result, op, where, what);
  Json::sax_parse(text, &sax);
  return result;
}

// At most `max_chars` characters of `j` as JSON ("..." appended when cut). Safe on any
// document parse_bounded_json returned: its depth is bounded, so dump() cannot overflow the stack.
template <typename Json>
std::string json_excerpt(const Json& j, size_t max_chars = 80) {
  std::string s = j.dump();
  return s.size() > max_chars ? s.substr(0, max_chars - 3) + "..." : s;
}

}  // namespace shears::nn
