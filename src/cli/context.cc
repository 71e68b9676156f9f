#include "cli/context.h"

#include <boost/json.hpp>
#include <iostream>

#include "cli/commands.h"
#include "config/config_loader.h"
#include "rudderstack/http_client.h"

namespace relay::cli {
namespace json = boost::json;

void AddCommonOptions(CLI::App& app, CommonOptions& options) {
  app.add_option("-c,--config", options.config_path, kConfigHelp);
  app.add_option("--store", options.store_url, "store URL, overriding the config (e.g. sqlite:///var/lib/retl-relay/relay.db)");
  app.add_flag("--json", options.json, "print JSON instead of a table");
}

std::optional<config::Config> LoadCliConfig(const std::string& path_flag) {
  auto env = config::ProcessEnv();
  const std::string path = config::ConfigPath(path_flag, env);
  if (!path.empty()) {
    auto c = config::LoadConfigFile(path, env);
    if (!c.ok()) {
      std::cerr << "error: " << c.status().message() << "\n";
      return std::nullopt;
    }
    return std::move(c).value();
  }
  if (auto c = config::ConfigFromEnvironment(env); c.ok()) return std::move(c).value();
  // Inspection needs no route: take what the environment has.
  config::Config c;
  c.source = "environment";
  c.store.url = env("RETL_RELAY_STORE_URL").value_or(config::DefaultStoreUrl(env));
  auto rs = config::RudderstackFromEnvironment(env);
  if (!rs.ok()) {
    std::cerr << "error: " << rs.status().message() << "\n";
    return std::nullopt;
  }
  c.rudderstack = std::move(rs).value();
  return c;
}

std::unique_ptr<Context> Context::Open(const CommonOptions& options, bool needs_store) {
  std::optional<config::Config> cfg = LoadCliConfig(options.config_path);
  if (!cfg) return nullptr;
  std::unique_ptr<Context> ctx(new Context());
  ctx->config_ = std::move(*cfg);
  if (needs_store) {
    std::string url = options.store_url.empty() ? ctx->config_.store.url : options.store_url;
    auto store = store::OpenStore(url, {.create_if_missing = false, .migrate = false});
    if (!store.ok()) {
      std::cerr << "error: cannot open the store " << config::RedactedStoreUrl(url) << ": " << store.status().message() << "\n";
      return nullptr;
    }
    ctx->store_ = std::move(store).value();
  }
  if (!ctx->config_.rudderstack.token.empty()) {
    const auto& rs = ctx->config_.rudderstack;
    ctx->client_ = rudderstack::NewHttpClient({config::ApiBase(rs), rs.token, rs.connect_timeout, rs.request_timeout});
  }
  ctx->ops_ = std::make_unique<admin::Operations>(ctx->store_.get(), ctx->client_.get(), ctx->config_, ctx->clock_);
  return ctx;
}

int Emit(const StatusOr<json::value>& result, bool as_json, const std::function<void(const json::value&)>& human) {
  if (!result.ok()) {
    std::cerr << "error: " << TerminalSafe(result.status().message()) << "\n";
    return 1;
  }
  if (as_json) {
    std::cout << json::serialize(*result) << "\n";
  } else {
    human(*result);
  }
  return 0;
}

std::string WhenText(std::string_view iso) {
  if (iso.empty()) return "-";
  auto t = ParseIso8601(iso);
  if (!t) return std::string(iso);
  SystemClock clock;
  const int64_t secs = (ToUnixMillis(clock.Now()) - ToUnixMillis(*t)) / 1000;
  const int64_t a = secs < 0 ? -secs : secs;
  std::string rel = a < 60 ? std::to_string(a) + "s" : a < 3600 ? std::to_string(a / 60) + "m"
                    : a < 86400 ? std::to_string(a / 3600) + "h" : std::to_string(a / 86400) + "d";
  return std::string(iso) + " (" + (secs < 0 ? "in " + rel : rel + " ago") + ")";
}

std::string TerminalSafe(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    const auto b = static_cast<unsigned char>(c);
    if (b < 0x20 || b == 0x7F) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\x%02x", b);
      out += buf;
    } else {
      out += c;
    }
  }
  return out;
}

void PrintTable(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& raw_rows) {
  // Stored text may hold anything: no cell may move the cursor, ring the bell or break a row.
  std::vector<std::vector<std::string>> rows;
  rows.reserve(raw_rows.size());
  for (const auto& r : raw_rows) {
    std::vector<std::string>& safe = rows.emplace_back();
    for (const auto& cell : r) safe.push_back(TerminalSafe(cell));
  }
  std::vector<size_t> width(header.size());
  for (size_t i = 0; i < header.size(); ++i) width[i] = header[i].size();
  for (const auto& r : rows) {
    for (size_t i = 0; i < r.size() && i < width.size(); ++i) width[i] = std::max(width[i], r[i].size());
  }
  auto line = [&](const std::vector<std::string>& cells) {
    std::string out;
    for (size_t i = 0; i < cells.size() && i < width.size(); ++i) {
      out += cells[i];
      if (i + 1 < cells.size()) out += std::string(width[i] - cells[i].size() + 2, ' ');
    }
    std::cout << out << "\n";
  };
  line(header);
  for (const auto& r : rows) line(r);
  if (rows.empty()) std::cout << "(none)\n";
}

std::string Text(const json::value& v) {
  if (v.is_null()) return "-";
  if (v.is_string()) return v.get_string().empty() ? "-" : TerminalSafe(v.get_string());
  if (v.is_bool()) return v.get_bool() ? "yes" : "no";
  return json::serialize(v);
}

}  // namespace relay::cli
