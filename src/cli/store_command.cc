// `sentiflow store ls|get|put`: look into and change a pipeline's sink store
// (docs/EMBEDDED.md, "Command line").
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <limits>

#include "cli/commands.h"
#include "cli/output.h"
#include "config/loader.h"
#include "core/error.h"
#include "core/time.h"
#include "assembly/backends.h"

namespace sentiflow::cli {
namespace {

struct StoreTarget {
  std::string pipeline;
  std::string directory;
};

void add_target_options(CLI::App* cmd, StoreTarget& t) {
  cmd->add_option("--pipeline", t.pipeline, "The pipeline file: its sink store");
  cmd->add_option("--store", t.directory, "A store directory, without a pipeline file");
}

// The store and the prefix its keys live under: "" for a directory; the sink's prefix in an
// S3 bucket, so that keys read the same on both (relative to the sink's root).
struct OpenedStore {
  std::unique_ptr<ObjectStore> store;
  std::string prefix;

  std::string full_key(std::string_view key) const { return prefix + std::string(key); }
  std::string relative(const std::string& key) const {
    return key.starts_with(prefix) ? key.substr(prefix.size()) : key;
  }
};

// `create` is false for the commands that only read: a mistyped --store creates nothing. A
// pipeline's store comes from the backend factory, so an s3:// sink works as a directory does
// (no bucket is ever created here: it belongs to the deployment).
OpenedStore open_store(const StoreTarget& t, bool create) {
  if (t.pipeline.empty() == t.directory.empty()) throw invalid_input("give either --pipeline FILE or --store DIR");
  if (!t.directory.empty()) return {assembly::open_store_directory(t.directory, create), ""};
  assembly::SinkStore sink = assembly::open_sink_store(load_pipeline_or_throw(t.pipeline), create);
  return {std::move(sink.store), std::move(sink.prefix)};
}

// Reads `in` to its end into `data`; false when the stream failed before it (a read error),
// which reading through istreambuf_iterator would take for the end.
bool read_all(std::istream& in, std::string& data) {
  char buffer[1 << 16];
  while (in.read(buffer, sizeof buffer) || in.gcount() > 0) {
    data.append(buffer, static_cast<size_t>(in.gcount()));
    if (!in) break;
  }
  return !in.bad();
}

void list(const StoreTarget& t, const std::string& prefix, size_t max_keys, bool json) {
  const OpenedStore opened = open_store(t, false);
  ObjectStore* store = opened.store.get();
  ListRequest request;
  request.prefix = opened.full_key(prefix);
  size_t printed = 0;
  do {
    request.max_keys = std::min(store->limits().max_keys_per_page, max_keys - printed);
    const ListPage page = store->list(request);
    std::string out;
    for (const auto& o : page.objects) {
      if (json)
        out += nlohmann::ordered_json{{"key", opened.relative(o.key)},
                                      {"size", o.size},
                                      {"etag", o.etag},
                                      {"last_modified", format_utc_millis(o.last_modified)}}
                   .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) +
               "\n";
      else
        out += fmt::format("{}  {:>12}  {}\n", format_utc_millis(o.last_modified), o.size, opened.relative(o.key));
    }
    std::cout << out;
    printed += page.objects.size();
    request.continuation_token = page.next_token;
  } while (!request.continuation_token.empty() && printed < max_keys);
}

}  // namespace

void add_store_command(CLI::App& app, int& status) {
  auto* store = app.add_subcommand("store", "Look into and change a pipeline's sink store: ls, get, put");
  store->require_subcommand(1);
  store->footer(
      "Each subcommand takes --pipeline FILE (the pipeline's sink store: a directory or s3://BUCKET/PREFIX/) or\n"
      "--store DIR. Keys are relative to the store's root: the directory, or the sink's prefix in the bucket.");
  auto target = std::make_shared<StoreTarget>();

  struct ListOptions {
    std::string prefix;
    size_t max_keys = std::numeric_limits<size_t>::max();
    bool json = false;
  };
  auto list_options = std::make_shared<ListOptions>();
  auto* ls_cmd = store->add_subcommand("ls", "List objects, in key order");
  add_target_options(ls_cmd, *target);
  ls_cmd->add_option("PREFIX", list_options->prefix, "Only keys that start with this");
  ls_cmd->add_option("--max-keys", list_options->max_keys, "At most this many objects")->check(CLI::PositiveNumber);
  ls_cmd->add_flag("--json", list_options->json, "One JSON object per object: key, size, etag, last_modified");
  ls_cmd->footer("Prints LAST_MODIFIED  SIZE  KEY per object.");
  ls_cmd->callback([target, list_options, &status] {
    list(*target, list_options->prefix, list_options->max_keys, list_options->json);
    status = 0;
  });

  struct GetOptions {
    std::string key;
    std::string out;
  };
  auto get_options = std::make_shared<GetOptions>();
  auto* get_cmd = store->add_subcommand("get", "Write an object's content to stdout (or --out FILE)");
  add_target_options(get_cmd, *target);
  get_cmd->add_option("KEY", get_options->key, "The object's key")->required();
  get_cmd->add_option("--out", get_options->out, "Write to this file instead");
  get_cmd->footer("Exit status 1 when there is no such object.");
  get_cmd->callback([target, get_options, &status] {
    const OpenedStore opened = open_store(*target, false);
    const auto object = opened.store->get(opened.full_key(get_options->key));
    if (!object) throw Error(ErrorCode::not_found, fmt::format("no object '{}' in the store", get_options->key));
    if (get_options->out.empty()) {
      std::cout.write(object->data.data(), static_cast<std::streamsize>(object->data.size()));
    } else {
      Output out(get_options->out);  // whole or not at all, never through a symbolic link
      out.buffer() = std::move(object->data);
      out.commit();
    }
    status = 0;
  });

  struct PutOptions {
    std::string key;
    std::string file = "-";
    std::string content_type;
  };
  auto put_options = std::make_shared<PutOptions>();
  auto* put_cmd = store->add_subcommand("put", "Store a file (or stdin) as an object, replacing any there");
  add_target_options(put_cmd, *target);
  put_cmd->add_option("KEY", put_options->key, "The object's key")->required();
  put_cmd->add_option("FILE", put_options->file, "The content (default -: stdin)");
  put_cmd->add_option("--content-type", put_options->content_type, "Default: by the key's extension");
  put_cmd->footer("Prints {\"key\", \"size\", \"etag\", \"content_type\"}.");
  put_cmd->callback([target, put_options, &status] {
    std::string data;
    if (put_options->file == "-") {
      if (!read_all(std::cin, data) || std::ferror(stdin))
        throw invalid_input("stdin could not be read to its end; nothing was stored");
    } else {
      std::ifstream in(put_options->file, std::ios::binary);
      if (!in) throw invalid_input(fmt::format("cannot read {}", put_options->file));
      if (!read_all(in, data))
        throw invalid_input(fmt::format("{} could not be read to its end; nothing was stored", put_options->file));
    }
    const OpenedStore opened = open_store(*target, true);
    const ObjectInfo info = opened.store->put(opened.full_key(put_options->key), data, put_options->content_type);
    std::cout << nlohmann::ordered_json{{"key", opened.relative(info.key)},
                                        {"size", info.size},
                                        {"etag", info.etag},
                                        {"content_type", info.content_type}}
                     .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)
              << "\n";
    status = 0;
  });
}

}  // namespace sentiflow::cli
