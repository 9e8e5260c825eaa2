// Provenance in checkpoints: the prune log round-trips through JSON and save/load, plain models
// keep writing exactly the old metadata, extensions are saved and handed to a restorer, an
// extension nobody restores is an error naming the file and kind, and bad JSON in the
// shears.prune_log / shears.extensions keys is an error naming the file and key.
#include <catch2/catch.hpp>

#include <filesystem>
#include <unistd.h>

#include "nn/checkpoint.h"
#include "nn/io/safetensors.h"
#include "nn/prune_log.h"

using namespace shears;

namespace {

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() /
          ("shears_prune_log_" + std::to_string(::getpid()) + "_" + name + ".safetensors"))
      .string();
}

nn::ModelConfig small_config() {
  nn::ModelConfig c = nn::vit_tiny_patch4_28(3);
  c.dim = 16;
  c.blocks = nn::uniform_blocks(2, 2, 8, 32);
  return c;
}

std::vector<nn::PruneStep> example_log() {
  nn::PruneStep a;
  a.kind = "drop_blocks";
  a.method = "blocks:entropy:k=1";
  a.params_json = R"({"criterion":"entropy","k":1,"scores":[0.5,1.5,2.25]})";
  a.kept["blocks"] = {1, 2};
  nn::PruneStep b;
  b.kind = "prune_mlp";
  b.method = "mlp:magnitude:keep=0.5";
  b.params_json = R"({"criterion":"magnitude","keep_ratio":0.5})";
  b.kept["blocks.0.mlp"] = {0, 3, 7};
  b.kept["blocks.1.mlp"] = {};
  return {a, b};
}

class NoteExtension : public nn::ModelExtension {
 public:
  explicit NoteExtension(std::string note, bool serialisable = true) : note_(std::move(note)), ok_(serialisable) {}
  std::string kind() const override { return "note"; }
  std::string to_json() const override {
    if (!ok_) fail("note", "this note cannot be serialised");
    return "{\"note\":\"" + note_ + "\"}";
  }

 private:
  std::string note_;
  bool ok_;
};

}  // namespace

TEST_CASE("the prune log round-trips through JSON", "[nn][prune_log]") {
  const auto log = example_log();
  const std::string text = nn::prune_log_to_json(log);
  const auto back = nn::prune_log_from_json(text, "test");
  REQUIRE(back.size() == 2);
  CHECK(back[0] == log[0]);
  CHECK(back[1] == log[1]);
  CHECK(back[1].kept.at("blocks.1.mlp").empty());
  CHECK(nn::prune_log_to_json(back) == text);
  CHECK(nn::prune_log_from_json("[]", "test").empty());
}

TEST_CASE("bad prune log JSON is refused naming where and what", "[nn][prune_log]") {
  CHECK_THROWS_WITH(nn::prune_log_from_json("{not json", "file.st: metadata 'shears.prune_log'"),
                    Catch::Contains("file.st: metadata 'shears.prune_log'") && Catch::Contains("not valid JSON"));
  CHECK_THROWS_WITH(nn::prune_log_from_json("{}", "W"), Catch::Contains("W") && Catch::Contains("JSON array"));
  CHECK_THROWS_WITH(nn::prune_log_from_json(R"([{"kind":"drop_blocks"}])", "W"), Catch::Contains("'method'"));
  CHECK_THROWS_WITH(nn::prune_log_from_json(R"([{"kind":"k","method":"m","kept":{"blocks":[1,"x"]}}])", "W"),
                    Catch::Contains("kept 'blocks'") && Catch::Contains("non-integer"));
  CHECK_THROWS_WITH(nn::prune_log_from_json(R"([{"kind":"k","method":"m","params":[1]}])", "W"),
                    Catch::Contains("'params' must be an object"));
  nn::PruneStep bad;
  bad.kind = "k";
  bad.method = "m";
  bad.params_json = "[1, 2]";
  CHECK_THROWS_WITH(nn::prune_log_to_json({bad}), Catch::Contains("JSON object") && Catch::Contains("'m'"));
}

TEST_CASE("a plain model's checkpoint metadata is unchanged", "[nn][prune_log]") {
  nn::VisionTransformer model(small_config(), 1);
  const std::string path = temp_path("plain");
  nn::save_model(path, model);
  const auto meta = nn::read_safetensors_metadata(path);
  CHECK(meta.size() == 2);
  CHECK(meta.count("shears.config") == 1);
  CHECK(meta.count("format") == 1);
  CHECK(nn::read_prune_log(path).empty());
  CHECK(nn::load_model(path)->prune_log.empty());
  std::filesystem::remove(path);
}

TEST_CASE("save_model writes the prune log and load_model restores it", "[nn][prune_log]") {
  nn::VisionTransformer model(small_config(), 2);
  model.prune_log = example_log();
  const std::string path = temp_path("log");
  nn::save_model(path, model);
  auto loaded = nn::load_model(path);
  REQUIRE(loaded->prune_log.size() == 2);
  CHECK(loaded->prune_log[0] == model.prune_log[0]);
  CHECK(loaded->prune_log[1] == model.prune_log[1]);
  CHECK(nn::read_prune_log(path).size() == 2);
  std::filesystem::remove(path);
}

TEST_CASE("extensions are saved and handed to the restorer, unrestored ones are errors", "[nn][prune_log]") {
  nn::VisionTransformer model(small_config(), 3);
  model.extensions.push_back(std::make_shared<NoteExtension>("hello"));
  const std::string path = temp_path("ext");
  nn::save_model(path, model);

  // no restorer: refused, naming the file, the kind and the loader to use
  CHECK_THROWS_WITH(nn::load_model(path), Catch::Contains(path) && Catch::Contains("'note'") &&
                                              Catch::Contains("pruning::load_model"));
  // a restorer that does not know the kind: refused the same way
  auto unknown = [](nn::VisionTransformer&, const std::string&, const std::string&) { return false; };
  CHECK_THROWS_WITH(nn::load_model(path, unknown), Catch::Contains(path) && Catch::Contains("'note'") &&
                                                        Catch::Contains("pruning::load_model"));
  // a restorer that throws: the error names the file and kind
  auto throwing = [](nn::VisionTransformer&, const std::string&, const std::string&) -> bool {
    fail("restore", "broken state");
  };
  CHECK_THROWS_WITH(nn::load_model(path, throwing),
                    Catch::Contains(path) && Catch::Contains("'note'") && Catch::Contains("broken state"));
  // a restorer that knows it gets the kind and the JSON
  std::vector<std::pair<std::string, std::string>> seen;
  auto restorer = [&](nn::VisionTransformer& m, const std::string& kind, const std::string& json) {
    seen.emplace_back(kind, json);
    m.extensions.push_back(std::make_shared<NoteExtension>("restored"));
    return true;
  };
  auto loaded = nn::load_model(path, restorer);
  REQUIRE(seen.size() == 1);
  CHECK(seen[0].first == "note");
  CHECK(seen[0].second == R"({"note":"hello"})");
  CHECK(loaded->extensions.size() == 1);
  std::filesystem::remove(path);
}

TEST_CASE("an extension that cannot be serialised fails save_model before writing", "[nn][prune_log]") {
  nn::VisionTransformer model(small_config(), 4);
  model.extensions.push_back(std::make_shared<NoteExtension>("x", /*serialisable=*/false));
  const std::string path = temp_path("unsaved");
  std::filesystem::remove(path);
  CHECK_THROWS_WITH(nn::save_model(path, model), Catch::Contains(path) && Catch::Contains("cannot be serialised"));
  CHECK(!std::filesystem::exists(path));
}

TEST_CASE("bad JSON in shears.prune_log or shears.extensions names the file and key", "[nn][prune_log]") {
  nn::VisionTransformer model(small_config(), 5);
  const std::string path = temp_path("bad");
  nn::save_model(path, model, {{"shears.prune_log", "[{\"kind\": 3"}});
  CHECK_THROWS_WITH(nn::load_model(path), Catch::Contains(path) && Catch::Contains("'shears.prune_log'"));
  CHECK_THROWS_WITH(nn::read_prune_log(path), Catch::Contains(path) && Catch::Contains("'shears.prune_log'"));
  nn::save_model(path, model, {{"shears.prune_log", "[{\"kind\": 3, \"method\": \"m\"}]"}});
  CHECK_THROWS_WITH(nn::load_model(path), Catch::Contains(path) && Catch::Contains("'kind'"));
  nn::save_model(path, model, {{"shears.extensions", "not json"}});
  CHECK_THROWS_WITH(nn::load_model(path), Catch::Contains(path) && Catch::Contains("'shears.extensions'"));
  nn::save_model(path, model, {{"shears.extensions", "[{\"kind\": \"note\"}]"}});
  CHECK_THROWS_WITH(nn::load_model(path), Catch::Contains(path) && Catch::Contains("'shears.extensions'") &&
                                              Catch::Contains("\"state\""));
  std::filesystem::remove(path);
}
