#include "config/config_loader.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <toml++/toml.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <cerrno>
#include <fstream>
#include <filesystem>
#include <set>
#include <sstream>

#include "common/ids.h"
#include "common/redact.h"

namespace relay::config {
namespace {

// Collects every problem instead of stopping at the first, so one run of check-config or serve
// shows the operator the whole list.
// Values substituted from the environment never appear in a problem: the variable may hold a
// secret (found by fuzz_config: `on = ["${TOKEN}"]` echoed the token).
class Problems {
 public:
  void Add(std::string key, std::string problem) { list_.push_back(key + ": " + problem); }
  void Add(std::string key_and_problem) { list_.push_back(std::move(key_and_problem)); }  // "key: problem"
  // Not a problem, but worth saying (an accepted alias, say): becomes a Config warning.
  void Note(std::string key, std::string note) { notes_.push_back(key + ": " + note); }
  const std::vector<std::string>& notes() const { return notes_; }
  bool empty() const { return list_.empty(); }
  size_t size() const { return list_.size(); }
  // Remembers a value taken from environment variable `name`, to redact it.
  void NoteEnvValue(const std::string& name, const std::string& value) {
    if (!value.empty()) env_values_.emplace_back(name, value);
  }
  // Counts bytes that ${VAR} expansion produced; false once the whole config's expansion
  // passes kMaxExpandedBytes (the expansion then stops, with a problem).
  bool SpendExpansion(size_t bytes) {
    expanded_ += bytes;
    return expanded_ <= kMaxExpandedBytes;
  }
  Status ToStatus(std::string_view source) const {
    std::string msg = std::string(source) + ": " + std::to_string(list_.size()) + " problem(s)";
    for (const auto& p : list_) msg += "\n  " + Redacted(p);
    return InvalidArgumentError(msg);
  }

 private:
  // Whole values only (RedactWhole): a short value ("us", "1") would otherwise replace every
  // occurrence of its letters, mangling the text and giving the value away.
  std::string Redacted(std::string text) const {
    for (const auto& [name, value] : env_values_) text = RedactWhole(std::move(text), value, "<value of $" + name + ">");
    return text;
  }

  std::vector<std::string> list_;
  std::vector<std::string> notes_;
  std::vector<std::pair<std::string, std::string>> env_values_;
  size_t expanded_ = 0;
};

// Bounds the text before toml++ sees it: toml++ recurses once per dotted-key segment (a key
// with 50,000 of them overflowed the stack) and per nesting level. A light scan that knows
// strings and comments counts the dots of each key chain and the depth of [ and {.
Status CheckTomlBounds(std::string_view text) {
  if (text.size() > kMaxConfigBytes) {
    return InvalidArgumentError(std::to_string(text.size()) + " bytes; a config may hold at most " +
                                std::to_string(kMaxConfigBytes));
  }
  enum class In { kCode, kComment, kBasic, kLiteral, kMultiBasic, kMultiLiteral } in = In::kCode;
  size_t line = 1, dots = 0, depth = 0;
  auto at = [&](size_t i, std::string_view what) { return text.substr(i, what.size()) == what; };
  for (size_t i = 0; i < text.size(); ++i) {
    const char ch = text[i];
    if (ch == '\n') {
      ++line;
      dots = 0;
    }
    switch (in) {
      case In::kComment:
        if (ch == '\n') in = In::kCode;
        continue;
      case In::kBasic:
        if (ch == '\\') ++i;
        else if (ch == '"' || ch == '\n') in = In::kCode;
        continue;
      case In::kLiteral:
        if (ch == '\'' || ch == '\n') in = In::kCode;
        continue;
      case In::kMultiBasic:
        if (ch == '\\') ++i;
        else if (at(i, "\"\"\"")) in = In::kCode, i += 2;
        continue;
      case In::kMultiLiteral:
        if (at(i, "\'\'\'")) in = In::kCode, i += 2;
        continue;
      case In::kCode:
        break;
    }
    switch (ch) {
      case '#': in = In::kComment; break;
      case '"':
        if (at(i, "\"\"\"")) in = In::kMultiBasic, i += 2;
        else in = In::kBasic;
        break;
      case '\'':
        if (at(i, "\'\'\'")) in = In::kMultiLiteral, i += 2;
        else in = In::kLiteral;
        break;
      case '.':
        if (++dots >= kMaxKeySegments) {
          return InvalidArgumentError("line " + std::to_string(line) + ": a key or table header with more than " +
                                      std::to_string(kMaxKeySegments) + " dotted parts");
        }
        break;
      case '[': case '{':
        dots = 0;
        if (++depth > kMaxNesting) {
          return InvalidArgumentError("line " + std::to_string(line) + ": nested more than " +
                                      std::to_string(kMaxNesting) + " levels deep");
        }
        break;
      case ']': case '}':
        dots = 0;
        if (depth > 0) --depth;
        break;
      case '=': case ',': case '\n':
        dots = 0;
        break;
      default:
        break;
    }
  }
  return Status::Ok();
}

// Replaces ${VAR} from the environment; "$$" stands for a literal "$".
std::optional<std::string> Expand(std::string_view in, const EnvLookup& env, std::string_view key,
                                  Problems& problems) {
  std::string out;
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '$' && i + 1 < in.size() && in[i + 1] == '$') {
      out += '$';
      ++i;
    } else if (in[i] == '$' && i + 1 < in.size() && in[i + 1] == '{') {
      size_t end = in.find('}', i + 2);
      if (end == std::string_view::npos) {
        problems.Add(std::string(key), "unterminated ${ in value");
        return std::nullopt;
      }
      std::string name(in.substr(i + 2, end - i - 2));
      std::optional<std::string> v = env(name);
      if (!v) {
        problems.Add(std::string(key), "environment variable " + name + " is not set");
        return std::nullopt;
      }
      problems.NoteEnvValue(name, *v);
      if (out.size() + v->size() > kMaxValueBytes || !problems.SpendExpansion(v->size())) {
        problems.Add(std::string(key), "too long once ${VAR} is expanded (at most " + std::to_string(kMaxValueBytes) +
                                           " bytes a value, " + std::to_string(kMaxExpandedBytes) + " in all)");
        return std::nullopt;
      }
      out += *v;
      i = end;
    } else {
      out += in[i];
    }
  }
  return out;
}

// Reads one table, checking its keys against the allowed set and typing each value.
class TableReader {
 public:
  TableReader(const toml::table& t, std::string prefix, const EnvLookup& env, Problems& p,
              std::set<std::string> allowed)
      : t_(t), prefix_(std::move(prefix)), env_(env), p_(p) {
    for (const auto& [k, v] : t_) {
      if (!allowed.count(std::string(k.str()))) p_.Add(Key(k.str()), "unknown key");
    }
  }

  std::string Key(std::string_view k) const { return prefix_.empty() ? std::string(k) : prefix_ + "." + std::string(k); }

  void String(std::string_view k, std::string* out) {
    const toml::node* n = t_.get(k);
    if (n == nullptr) return;
    if (!n->is_string()) return p_.Add(Key(k), "must be a string");
    if (auto v = Expand(n->as_string()->get(), env_, Key(k), p_)) *out = *v;
  }
  void Bool(std::string_view k, bool* out) {
    const toml::node* n = t_.get(k);
    if (n == nullptr) return;
    if (!n->is_boolean()) return p_.Add(Key(k), "must be true or false");
    *out = n->as_boolean()->get();
  }
  void Int(std::string_view k, int64_t min, int64_t max, int64_t* out) {
    const toml::node* n = t_.get(k);
    if (n == nullptr) return;
    if (!n->is_integer()) return p_.Add(Key(k), "must be an integer");
    int64_t v = n->as_integer()->get();
    if (v < min || v > max) {
      return p_.Add(Key(k), "must be between " + std::to_string(min) + " and " + std::to_string(max));
    }
    *out = v;
  }
  void Int(std::string_view k, int min, int max, int* out) {
    int64_t v = *out;
    Int(k, int64_t{min}, int64_t{max}, &v);
    *out = static_cast<int>(v);
  }
  void Dur(std::string_view k, Duration* out) {
    std::string text;
    const toml::node* n = t_.get(k);
    if (n == nullptr) return;
    if (n->is_integer()) {
      text = std::to_string(n->as_integer()->get());
    } else if (n->is_string()) {
      text = n->as_string()->get();
    } else {
      return p_.Add(Key(k), "must be a duration such as \"500ms\", \"10s\", \"5m\"");
    }
    StatusOr<Duration> d = ParseDuration(text);
    if (!d.ok()) return p_.Add(Key(k), d.status().message());
    *out = *d;
  }
  // A list of strings (or, with ids_ok, digit strings and integers).
  std::vector<std::string> StringList(std::string_view k, bool ids_ok) {
    std::vector<std::string> out;
    const toml::node* n = t_.get(k);
    if (n == nullptr) return out;
    const toml::array* a = n->as_array();
    if (a == nullptr) {
      p_.Add(Key(k), "must be a list");
      return out;
    }
    for (const toml::node& e : *a) {
      if (e.is_string()) {
        if (auto v = Expand(e.as_string()->get(), env_, Key(k), p_)) out.push_back(*v);
      } else if (ids_ok && e.is_integer()) {
        out.push_back(std::to_string(e.as_integer()->get()));
      } else {
        p_.Add(Key(k), ids_ok ? "items must be ids (strings of digits or integers)" : "items must be strings");
      }
    }
    return out;
  }
  std::vector<int64_t> IdList(std::string_view k) {
    std::vector<int64_t> ids;
    for (const std::string& s : StringList(k, true)) {
      char* end = nullptr;
      errno = 0;
      long long v = std::strtoll(s.c_str(), &end, 10);
      if (s.empty() || *end != '\0' || errno != 0 || v < 0) {
        p_.Add(Key(k), "\"" + s + "\" is not a numeric dbt id");
      } else {
        ids.push_back(v);
      }
    }
    return ids;
  }
  bool Has(std::string_view k) const { return t_.get(k) != nullptr; }

 private:
  const toml::table& t_;
  std::string prefix_;
  const EnvLookup& env_;
  Problems& p_;
};

const toml::table* SubTable(const toml::table& root, std::string_view k, Problems& p) {
  const toml::node* n = root.get(k);
  if (n == nullptr) return nullptr;
  if (!n->is_table()) {
    p.Add(std::string(k), "must be a table ([" + std::string(k) + "])");
    return nullptr;
  }
  return n->as_table();
}

bool ValidBaseUrl(std::string_view url) {
  std::string_view rest;
  if (url.starts_with("https://")) rest = url.substr(8);
  else if (url.starts_with("http://")) rest = url.substr(7);
  else return false;
  return !rest.empty() && rest.front() != '/' && rest.find_first_of(" \t?#") == std::string_view::npos;
}

// An alert sink's URL: http(s), a host, and anything after it (a query may hold its token).
bool ValidSinkUrl(std::string_view url) {
  std::string_view rest;
  if (url.starts_with("https://")) rest = url.substr(8);
  else if (url.starts_with("http://")) rest = url.substr(7);
  else return false;
  return !rest.empty() && rest.front() != '/' && rest.front() != '?' && rest.find_first_of(" \t\r\n") == std::string_view::npos;
}

std::string NormaliseBase(std::string url) {
  while (!url.empty() && url.back() == '/') url.pop_back();
  if (url.ends_with("/v2")) url.resize(url.size() - 3);
  return url;
}

void ReadServer(const toml::table& root, const EnvLookup& env, Problems& p, ServerConfig& s) {
  const toml::table* t = SubTable(root, "server", p);
  if (t == nullptr) return;
  TableReader r(*t, "server", env, p,
                {"listen", "max_body_bytes", "header_timeout", "body_timeout", "idle_timeout", "io_threads",
                 "max_connections", "shutdown_timeout"});
  r.String("listen", &s.listen);
  int64_t body = static_cast<int64_t>(s.max_body_bytes);
  r.Int("max_body_bytes", 1024, int64_t{64} * 1024 * 1024, &body);
  s.max_body_bytes = static_cast<uint64_t>(body);
  r.Dur("header_timeout", &s.header_timeout);
  r.Dur("body_timeout", &s.body_timeout);
  r.Dur("idle_timeout", &s.idle_timeout);
  r.Int("io_threads", 1, 64, &s.io_threads);
  r.Int("max_connections", 1, 1000000, &s.max_connections);
  r.Dur("shutdown_timeout", &s.shutdown_timeout);
}

void ReadStore(const toml::table& root, const EnvLookup& env, Problems& p, StoreConfig& s) {
  if (const toml::table* t = SubTable(root, "store", p)) {
    TableReader r(*t, "store", env, p, {"url", "retention", "retention_interval"});
    r.String("url", &s.url);
    r.Dur("retention", &s.retention);  // "0s" keeps everything
    r.Dur("retention_interval", &s.retention_interval);
    if (s.retention_interval.count() <= 0) p.Add("store.retention_interval", "must be positive");
    if (s.retention.count() != 0 && s.retention < kMinRetention) {
      p.Add("store.retention", "must be \"0s\" (keep everything) or at least 1d: newer history still deduplicates "
                               "dbt's retries and resolves starts");
    }
  }
  if (s.url.empty()) {
    s.url = DefaultStoreUrl(env);
    s.url_defaulted = true;
  }
}

void ReadDbt(const toml::table& root, const EnvLookup& env, Problems& p, DbtConfig& d) {
  if (const toml::table* t = SubTable(root, "dbt", p)) {
    TableReader r(*t, "dbt", env, p, {"webhook_secret", "webhook_secrets", "allow_unsigned"});
    std::string one;
    r.String("webhook_secret", &one);
    if (!one.empty()) d.webhook_secrets.push_back(one);
    for (auto& s : r.StringList("webhook_secrets", false)) d.webhook_secrets.push_back(s);
    if (r.Has("webhook_secret") && one.empty()) p.Add("dbt.webhook_secret", "is empty");
    r.Bool("allow_unsigned", &d.allow_unsigned);
  }
  if (d.webhook_secrets.empty()) {
    if (auto v = env("DBT_WEBHOOK_SECRET"); v && !v->empty()) d.webhook_secrets.push_back(*v);
  }
}

void ReadRudderstack(const toml::table& root, const EnvLookup& env, Problems& p, RudderstackConfig& rs) {
  if (const toml::table* t = SubTable(root, "rudderstack", p)) {
    TableReader r(*t, "rudderstack", env, p,
                  {"region", "api_base", "token", "connect_timeout", "request_timeout"});
    r.String("region", &rs.region);
    r.String("api_base", &rs.api_base);
    r.String("token", &rs.token);
    r.Dur("connect_timeout", &rs.connect_timeout);
    r.Dur("request_timeout", &rs.request_timeout);
  }
  if (rs.token.empty()) {
    if (auto v = env("RUDDERSTACK_API_TOKEN")) rs.token = *v;
  }
  if (rs.region != "us" && rs.region != "eu") p.Add("rudderstack.region", "unknown region \"" + rs.region + "\" (us or eu)");
  if (!rs.api_base.empty()) {
    if (!ValidBaseUrl(rs.api_base)) p.Add("rudderstack.api_base", "not an http(s) URL");
    rs.api_base = NormaliseBase(rs.api_base);
  }
  if (rs.token.empty()) p.Add("rudderstack.token", "not set (or set RUDDERSTACK_API_TOKEN)");
}

void ReadDispatch(const toml::table& root, const EnvLookup& env, Problems& p, DispatchConfig& d) {
  const toml::table* t = SubTable(root, "dispatch", p);
  if (t == nullptr) return;
  TableReader r(*t, "dispatch", env, p,
                {"workers", "poll_interval", "notify_coalesce", "retry_initial", "retry_max", "max_age", "lease", "sync_poll_interval",
                 "outcome_timeout", "start_skew"});
  r.Int("workers", 1, 64, &d.workers);
  r.Dur("poll_interval", &d.poll_interval);
  r.Dur("notify_coalesce", &d.notify_coalesce);
  r.Dur("retry_initial", &d.retry_initial);
  r.Dur("retry_max", &d.retry_max);
  r.Dur("max_age", &d.max_age);
  r.Dur("lease", &d.lease);
  r.Dur("sync_poll_interval", &d.sync_poll_interval);
  r.Dur("outcome_timeout", &d.outcome_timeout);
  r.Dur("start_skew", &d.start_skew);
  if (d.retry_max < d.retry_initial) p.Add("dispatch.retry_max", "is less than retry_initial");
}

void ReadAdmin(const toml::table& root, const EnvLookup& env, Problems& p, AdminConfig& a) {
  if (const toml::table* t = SubTable(root, "admin", p)) {
    TableReader r(*t, "admin", env, p, {"token", "listen"});
    r.String("token", &a.token);
    r.String("listen", &a.listen);
    if (r.Has("token") && a.token.empty()) p.Add("admin.token", "is empty (leave it out to turn the admin API off)");
  }
  if (a.token.empty()) {
    if (auto v = env("RETL_RELAY_ADMIN_TOKEN")) a.token = *v;
  }
  if (a.listen.empty()) {
    if (auto v = env("RETL_RELAY_ADMIN_LISTEN")) a.listen = *v;
  }
}

void ReadDbtCloud(const toml::table& root, const EnvLookup& env, Problems& p, DbtCloudConfig& d) {
  const toml::table* t = SubTable(root, "dbt_cloud", p);
  if (t == nullptr) return;
  TableReader r(*t, "dbt_cloud", env, p,
                {"api_base", "account_id", "token", "reconcile_interval", "lookback", "grace", "verify_runs",
                 "verify_window", "request_timeout"});
  r.String("api_base", &d.api_base);
  const toml::node* account = t->get("account_id");
  if (account != nullptr && account->is_integer() && account->as_integer()->get() > 0) {
    d.account_id = std::to_string(account->as_integer()->get());
  } else {
    r.String("account_id", &d.account_id);
  }
  r.String("token", &d.token);
  r.Dur("reconcile_interval", &d.reconcile_interval);
  r.Dur("lookback", &d.lookback);
  r.Dur("grace", &d.grace);
  r.Bool("verify_runs", &d.verify_runs);
  r.Dur("verify_window", &d.verify_window);
  r.Dur("request_timeout", &d.request_timeout);
  if (d.token.empty()) {
    if (auto v = env("DBT_CLOUD_API_TOKEN")) d.token = *v;
  }
  if (d.account_id.empty() || d.account_id.find_first_not_of("0123456789") != std::string::npos ||
      d.account_id.size() > 18) {
    p.Add("dbt_cloud.account_id", "must be the numeric dbt Cloud account id (in the account's URL: /accounts/ID/)");
    d.account_id = d.account_id.empty() ? "0" : d.account_id;  // the section is present: stays enabled
  }
  if (!ValidBaseUrl(d.api_base)) {
    p.Add("dbt_cloud.api_base", "not an http(s) URL (the account's access URL, e.g. https://cloud.getdbt.com)");
  }
  while (!d.api_base.empty() && d.api_base.back() == '/') d.api_base.pop_back();
  if (d.api_base.ends_with("/api")) d.api_base.resize(d.api_base.size() - 4);
  if (d.token.empty()) p.Add("dbt_cloud.token", "not set (or set DBT_CLOUD_API_TOKEN): a service token that can read runs");
  if (d.reconcile_interval.count() != 0 && d.reconcile_interval < std::chrono::seconds(1)) {
    p.Add("dbt_cloud.reconcile_interval", "must be \"0s\" (off) or at least 1s");
  }
  if (d.lookback < std::chrono::seconds(1)) p.Add("dbt_cloud.lookback", "must be at least 1s");
  if (d.grace.count() < 0 || d.grace >= d.lookback) p.Add("dbt_cloud.grace", "must be shorter than lookback");
  if (d.verify_window < std::chrono::seconds(1)) p.Add("dbt_cloud.verify_window", "must be at least 1s");
  if (d.request_timeout < std::chrono::seconds(1)) p.Add("dbt_cloud.request_timeout", "must be at least 1s");
}

void ReadRoute(const toml::table& t, size_t index, const EnvLookup& env, Problems& p,
               std::set<std::string>& names, std::vector<Route>& routes) {
  std::string prefix = "route[" + std::to_string(index) + "]";
  TableReader r(t, prefix, env, p,
                {"name", "job_ids", "project_ids", "environment_ids", "account_ids", "on",
                 "connections", "sync_type", "if_running", "after_all", "within"});
  Route route;
  r.String("name", &route.name);
  if (route.name.empty()) route.name = "route-" + std::to_string(index + 1);
  if (!names.insert(route.name).second) p.Add(prefix + ".name", "duplicate route name \"" + route.name + "\"");
  route.job_ids = r.IdList("job_ids");
  route.project_ids = r.IdList("project_ids");
  route.environment_ids = r.IdList("environment_ids");
  route.account_ids = r.IdList("account_ids");
  route.after_all = r.IdList("after_all");
  if (r.Has("after_all")) {
    std::set<int64_t> seen(route.after_all.begin(), route.after_all.end());
    if (route.after_all.size() < 2) {
      p.Add(prefix + ".after_all", "must list at least two job ids (one job is job_ids)");
    } else if (seen.size() != route.after_all.size()) {
      p.Add(prefix + ".after_all", "lists a job id twice");
    }
    if (r.Has("job_ids")) {
      p.Add(prefix + ".job_ids", "cannot be used with after_all in one route: after_all names the jobs");
    }
  }
  if (r.Has("within")) {
    r.Dur("within", &route.within);
    if (!r.Has("after_all")) p.Add(prefix + ".within", "applies only to a fan-in route (after_all)");
    else if (route.within < std::chrono::seconds(1)) p.Add(prefix + ".within", "must be at least 1s");
  }
  if (r.Has("on")) {
    route.on_status_codes.clear();
    for (const std::string& o : r.StringList("on", false)) {
      std::string canonical;
      if (std::optional<int> code = RunStatusCodeFor(o, &canonical)) {
        route.on_status_codes.push_back(*code);
        if (canonical != o) p.Note(prefix + ".on", "\"" + o + "\" read as \"" + canonical + "\" (dbt's name)");
      } else {
        p.Add(prefix + ".on", "unknown outcome \"" + o + "\" (success, error, cancelled)");
      }
    }
    if (route.on_status_codes.empty()) p.Add(prefix + ".on", "is empty");
  }
  route.connections = r.StringList("connections", false);
  if (route.connections.empty()) p.Add(prefix + ".connections", "must list at least one connection id");
  for (size_t i = 0; i < route.connections.size(); ++i) {
    Status s = CheckRudderstackId(route.connections[i], prefix + ".connections[" + std::to_string(i) + "]");
    if (!s.ok()) p.Add(s.message());
  }
  std::string sync_type = "incremental", if_running = "queue";
  r.String("sync_type", &sync_type);
  r.String("if_running", &if_running);
  if (sync_type == "full") route.sync_type = SyncType::kFull;
  else if (sync_type != "incremental") p.Add(prefix + ".sync_type", "must be incremental or full");
  if (if_running == "skip") route.if_running = IfRunning::kSkip;
  else if (if_running == "restart") route.if_running = IfRunning::kRestart;
  else if (if_running != "queue") p.Add(prefix + ".if_running", "must be queue, skip or restart");
  routes.push_back(std::move(route));
}

// The [[key]] tables, or nullptr when absent (or not an array of tables: reported).
const toml::array* ArrayOfTables(const toml::table& root, const std::string& key, Problems& p) {
  const toml::node* n = root.get(key);
  if (n == nullptr) return nullptr;
  const toml::array* a = n->as_array();
  if (a == nullptr || !a->is_array_of_tables()) {
    p.Add(key, "must be an array of tables ([[" + key + "]])");
    return nullptr;
  }
  return a;
}

void ReadAlerts(const toml::table& root, const EnvLookup& env, Problems& p, std::vector<AlertSink>& sinks) {
  const toml::array* a = ArrayOfTables(root, "alert", p);
  if (a == nullptr) return;
  std::set<std::string> names;
  for (size_t i = 0; i < a->size(); ++i) {
    const std::string prefix = "alert[" + std::to_string(i) + "]";
    TableReader r(*a->get(i)->as_table(), prefix, env, p, {"name", "kind", "url", "secret", "on", "min_interval"});
    AlertSink s;
    r.String("kind", &s.kind);
    r.String("name", &s.name);
    r.String("url", &s.url);
    r.String("secret", &s.secret);
    r.Dur("min_interval", &s.min_interval);
    if (s.kind != "slack" && s.kind != "webhook") {
      p.Add(prefix + ".kind", s.kind.empty() ? "not set (slack or webhook)" : "unknown kind \"" + s.kind + "\" (slack or webhook)");
    }
    if (s.name.empty()) {
      // Derived from the URL, not from the sink's place in the file: the store keeps each
      // sink's delivery position by name, and reordering [[alert]] blocks must not swap them.
      uint32_t h = 2166136261u;  // FNV-1a: stable across builds and machines
      for (unsigned char ch : s.url) h = (h ^ ch) * 16777619u;
      char hex[9];
      std::snprintf(hex, sizeof(hex), "%08x", h);
      s.name = (s.kind.empty() ? "alert" : s.kind) + "-" + std::string(hex);
    }
    if (!names.insert(s.name).second) p.Add(prefix + ".name", "duplicate alert name \"" + s.name + "\"");
    if (s.name.size() > 64 || s.name.find_first_of(" \t\"\\") != std::string::npos) {
      p.Add(prefix + ".name", "must be at most 64 characters without spaces or quotes");
    }
    if (s.url.empty()) p.Add(prefix + ".url", "not set (the sink's https URL; ${VAR} reads it from the environment)");
    else if (!ValidSinkUrl(s.url)) p.Add(prefix + ".url", "not an http(s) URL");
    if (r.Has("secret") && s.secret.empty()) p.Add(prefix + ".secret", "is empty (leave it out to send unsigned)");
    if (s.kind == "slack" && !s.secret.empty()) p.Add(prefix + ".secret", "applies only to kind = \"webhook\"");
    if (s.min_interval.count() < 0) p.Add(prefix + ".min_interval", "must not be negative");
    if (r.Has("on")) {
      s.on = r.StringList("on", false);
      if (s.on.empty()) p.Add(prefix + ".on", "is empty (leave it out for every kind)");
      for (const std::string& k : s.on) {
        if (std::find(std::begin(kAlertKinds), std::end(kAlertKinds), k) == std::end(kAlertKinds)) {
          p.Add(prefix + ".on", "unknown alert \"" + k + "\" (sync_failed, trigger_dead, signature_failures, "
                                "pending_too_long)");
        }
      }
    } else {
      s.on.assign(std::begin(kAlertKinds), std::end(kAlertKinds));
    }
    sinks.push_back(std::move(s));
  }
}

void ReadAlerting(const toml::table& root, const EnvLookup& env, Problems& p, AlertingConfig& a) {
  const toml::table* t = SubTable(root, "alerting", p);
  if (t == nullptr) return;
  TableReader r(*t, "alerting", env, p,
                {"pending_too_long", "signature_failures", "signature_window", "check_interval", "request_timeout"});
  r.Dur("pending_too_long", &a.pending_too_long);
  r.Int("signature_failures", 1, 1000000, &a.signature_failures);
  r.Dur("signature_window", &a.signature_window);
  r.Dur("check_interval", &a.check_interval);
  r.Dur("request_timeout", &a.request_timeout);
  if (a.pending_too_long < std::chrono::seconds(1)) p.Add("alerting.pending_too_long", "must be at least 1s");
  if (a.signature_window < std::chrono::seconds(1)) p.Add("alerting.signature_window", "must be at least 1s");
  if (a.check_interval < std::chrono::milliseconds(100)) p.Add("alerting.check_interval", "must be at least 100ms");
  if (a.request_timeout < std::chrono::seconds(1)) p.Add("alerting.request_timeout", "must be at least 1s");
}

void ReadRoutes(const toml::table& root, const EnvLookup& env, Problems& p, std::vector<Route>& routes) {
  const toml::array* a = ArrayOfTables(root, "route", p);
  if (a == nullptr) return;
  std::set<std::string> names;
  for (size_t i = 0; i < a->size(); ++i) ReadRoute(*a->get(i)->as_table(), i, env, p, names, routes);
}

void ResolveStore(Problems& p, StoreConfig& s) {
  if (s.url.starts_with("sqlite://")) {
    s.sqlite_path = s.url.substr(9);
    if (s.sqlite_path.empty()) p.Add("store.url", "sqlite:// needs a file path");
  } else if (s.url.starts_with("postgres://") || s.url.starts_with("postgresql://")) {
    // libpq parses the rest when connecting; a bad URI is reported then, with libpq's words.
  } else {
    p.Add("store.url", "must start with sqlite:// or postgresql:// (e.g. sqlite:///var/lib/retl-relay/relay.db)");
  }
}

}  // namespace

std::string_view SyncTypeName(SyncType t) { return t == SyncType::kFull ? "full" : "incremental"; }
std::string_view IfRunningName(IfRunning p) {
  switch (p) {
    case IfRunning::kQueue: return "queue";
    case IfRunning::kSkip: return "skip";
    case IfRunning::kRestart: return "restart";
  }
  return "queue";
}

EnvLookup ProcessEnv() {
  return [](std::string_view name) -> std::optional<std::string> {
    const char* v = std::getenv(std::string(name).c_str());
    if (v == nullptr) return std::nullopt;
    return std::string(v);
  };
}

StatusOr<Duration> ParseDuration(std::string_view text) {
  size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
  if (digits == 0 || digits > 12) return InvalidArgumentError("\"" + std::string(text) + "\" is not a duration (e.g. 500ms, 10s, 5m, 24h)");
  int64_t n = std::stoll(std::string(text.substr(0, digits)));
  std::string_view unit = text.substr(digits);
  if (unit == "ms") return Duration(n);
  if (unit == "s" || unit.empty()) return Duration(n * 1000);
  if (unit == "m") return Duration(n * 60'000);
  if (unit == "h") return Duration(n * 3'600'000);
  if (unit == "d") return Duration(n * 86'400'000);
  return InvalidArgumentError("\"" + std::string(text) + "\" has an unknown unit (ms, s, m, h, d)");
}

std::string ApiBase(const RudderstackConfig& rs) {
  if (!rs.api_base.empty()) return rs.api_base;
  return rs.region == "eu" ? "https://api.eu.rudderstack.com" : "https://api.rudderstack.com";
}

std::vector<std::string> LiteralSecretKeys(std::string_view toml_text) {
  std::vector<std::string> keys;
  toml::table root;
  if (!CheckTomlBounds(toml_text).ok()) return {};
  try {
    root = toml::parse(toml_text);
  } catch (const toml::parse_error&) {
    return keys;
  }
  auto literal = [](const toml::node* n) {
    if (n == nullptr) return false;
    if (const toml::array* a = n->as_array()) {
      for (const toml::node& e : *a) {
        if (e.is_string() && e.as_string()->get().find("${") == std::string::npos) return true;
      }
      return false;
    }
    return n->is_string() && n->as_string()->get().find("${") == std::string::npos;
  };
  for (const char* key : {"rudderstack.token", "dbt.webhook_secret", "dbt.webhook_secrets", "admin.token", "dbt_cloud.token"}) {
    if (literal(root.at_path(key).node())) keys.emplace_back(key);
  }
  if (const toml::array* alerts = root["alert"].as_array()) {
    for (size_t i = 0; i < alerts->size(); ++i) {
      const toml::table* t = alerts->get(i)->as_table();
      if (t == nullptr) continue;
      // A Slack webhook URL is its own credential.
      const bool slack = t->get("kind") && t->get("kind")->value<std::string>() == "slack";
      for (const char* key : {"secret", "url"}) {
        if ((std::string_view(key) == "secret" || slack) && literal(t->get(key))) {
          keys.push_back("alert[" + std::to_string(i) + "]." + key);
        }
      }
    }
  }
  // A PostgreSQL URL may carry a password: postgresql://user:PASSWORD@host/db.
  if (const toml::node* url = root.at_path("store.url").node(); url && url->is_string()) {
    const std::string& u = url->as_string()->get();
    size_t at = u.find('@'), scheme = u.find("://");
    if (u.starts_with("postgres") && at != std::string::npos && scheme != std::string::npos &&
        u.substr(scheme + 3, at - scheme - 3).find(':') != std::string::npos && u.find("${") == std::string::npos) {
      keys.emplace_back("store.url (password)");
    }
  }
  return keys;
}

namespace {

// Applies serve's overrides and, for serve, its checks, to a config being loaded.
// Tokens and secrets go into HTTP headers and HMAC keys: a control character (CR/LF from a
// ${VAR}, say) would inject a header, and a value too short to be secret cannot be redacted
// without giving it away. Both are refused at load, wherever the value came from.
void CheckSecrets(Problems& p, const Config& c) {
  auto check = [&p](const std::string& key, const std::string& value) {
    if (value.empty()) return;
    if (std::any_of(value.begin(), value.end(), [](char ch) {
          return static_cast<unsigned char>(ch) < 0x20 || ch == 0x7f;
        })) {
      p.Add(key, "contains a control character (a line break from the environment?)");
    } else if (value.size() < kMinSecretBytes) {
      p.Add(key, "too short to be a secret (at least " + std::to_string(kMinSecretBytes) + " characters)");
    }
  };
  check("rudderstack.token", c.rudderstack.token);
  for (const std::string& s : c.dbt.webhook_secrets) check("dbt.webhook_secret", s);
  check("admin.token", c.admin.token);
  check("dbt_cloud.token", c.dbt_cloud.token);
  for (size_t i = 0; i < c.alerts.size(); ++i) check("alert[" + std::to_string(i) + "].secret", c.alerts[i].secret);
}

void FinishLoad(const LoadOptions& options, Problems& p, Config& c) {
  CheckSecrets(p, c);
  if (!options.listen.empty()) c.server.listen = options.listen;
  if (!options.store_url.empty()) {
    c.store.url = options.store_url;
    c.store.url_defaulted = false;
    ResolveStore(p, c.store);
  }
  if (!options.for_serve) return;
  // Before this release the default was ./retl-relay.db. Starting on a new, empty store beside
  // it would leave its pending triggers and its dedupe history behind without a word.
  struct stat old {};
  if (c.store.url_defaulted && ::stat("retl-relay.db", &old) == 0) {
    char cwd[4096] = {0};
    const std::string here = ::getcwd(cwd, sizeof(cwd) - 1) != nullptr ? cwd : ".";
    p.Add("store.url", "not set, and " + here + "/retl-relay.db (the default before this release) exists: set "
                       "store.url = \"sqlite://" + here + "/retl-relay.db\" to keep using it, or move it to " +
                       c.store.url.substr(9));
  }
  for (const std::string& problem : ServeProblems(c)) p.Add(problem);
}

}  // namespace

std::string RedactedUrl(std::string_view url) {
  const size_t scheme = url.find("://");
  if (scheme == std::string_view::npos) return "(redacted)";
  const size_t host_end = url.find_first_of("/?#", scheme + 3);
  std::string_view authority = url.substr(scheme + 3, host_end == std::string_view::npos ? url.npos : host_end - scheme - 3);
  if (const size_t at = authority.rfind('@'); at != std::string_view::npos) authority.remove_prefix(at + 1);
  std::string out = std::string(url.substr(0, scheme + 3)) + std::string(authority);
  if (host_end != std::string_view::npos && host_end + 1 < url.size()) out += "/…";
  return out;
}

std::string DefaultStoreUrl(const EnvLookup& env, bool root) {
  std::string dir;
  if (auto v = env("STATE_DIRECTORY"); v && !v->empty()) {
    dir = v->substr(0, v->find(':'));  // systemd lists several directories separated by ':'
  } else if (root) {
    dir = "/var/lib/retl-relay";
  } else if (auto x = env("XDG_STATE_HOME"); x && !x->empty()) {
    dir = *x + "/retl-relay";
  } else {
    dir = env("HOME").value_or("/tmp") + "/.local/state/retl-relay";
  }
  return "sqlite://" + dir + "/relay.db";
}

std::string DefaultStoreUrl(const EnvLookup& env) { return DefaultStoreUrl(env, ::geteuid() == 0); }

Status CheckListenAddress(std::string_view host_port) {
  const size_t colon = host_port.rfind(':');
  if (colon == std::string_view::npos) return InvalidArgumentError("must be IP:port, e.g. 0.0.0.0:8080");
  std::string host(host_port.substr(0, colon));
  const std::string_view port = host_port.substr(colon + 1);
  if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string_view::npos ||
      std::stoi(std::string(port)) > 65535) {
    return InvalidArgumentError("port must be a number from 0 to 65535 (0 = any free port)");
  }
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  unsigned char addr[sizeof(in6_addr)];
  if (inet_pton(AF_INET, host.c_str(), addr) != 1 && inet_pton(AF_INET6, host.c_str(), addr) != 1) {
    return InvalidArgumentError("\"" + host + "\" is not an IP address (use 0.0.0.0, 127.0.0.1 or [::])");
  }
  return Status::Ok();
}

StatusOr<Config> ParseConfig(std::string_view toml_text, const EnvLookup& env, std::string_view source_name,
                             const LoadOptions& options) {
  if (Status s = CheckTomlBounds(toml_text); !s.ok()) return InvalidArgumentError(std::string(source_name) + ": " + s.message());
  toml::table root;
  try {
    root = toml::parse(toml_text, source_name);
  } catch (const toml::parse_error& e) {
    std::ostringstream msg;
    msg << source_name << ":" << e.source().begin.line << ":" << e.source().begin.column
        << ": TOML syntax error: " << e.description();
    return InvalidArgumentError(msg.str());
  }
  Problems p;
  Config c;
  c.source = std::string(source_name);
  for (const auto& [k, v] : root) {
    static const std::set<std::string> kTop = {"server", "store", "dbt", "rudderstack", "dispatch", "admin",
                                                     "dbt_cloud", "route", "alert", "alerting"};
    if (!kTop.count(std::string(k.str()))) p.Add(std::string(k.str()), "unknown key");
  }
  ReadServer(root, env, p, c.server);
  ReadStore(root, env, p, c.store);
  ResolveStore(p, c.store);
  ReadDbt(root, env, p, c.dbt);
  ReadRudderstack(root, env, p, c.rudderstack);
  ReadDispatch(root, env, p, c.dispatch);
  ReadAdmin(root, env, p, c.admin);
  ReadDbtCloud(root, env, p, c.dbt_cloud);
  if (c.dbt_cloud.enabled() && c.store.retention.count() != 0 && c.dbt_cloud.lookback > c.store.retention) {
    // A pruned run would look missed again, and start its syncs a second time.
    p.Add("dbt_cloud.lookback", "is longer than store.retention: runs pruned from the store would be reconciled again");
  }
  const size_t before_routes = p.size();
  ReadRoutes(root, env, p, c.routes);
  if (c.routes.empty() && p.size() == before_routes) {
    // (A broken [[route]] has said what is wrong with it already.)
    p.Add("route", "no [[route]] configured: no webhook would ever start a sync");
  }
  ReadAlerts(root, env, p, c.alerts);
  ReadAlerting(root, env, p, c.alerting);
  FinishLoad(options, p, c);
  if (!p.empty()) return p.ToStatus(source_name);
  c.warnings = p.notes();
  return c;
}

std::optional<int> RunStatusCodeFor(std::string_view word, std::string* canonical) {
  struct Name {
    std::string_view word, canonical;
    int code;
  };
  static constexpr Name kNames[] = {
      {"success", "success", 10},     {"succeeded", "success", 10}, {"successful", "success", 10},
      {"error", "error", 20},         {"errored", "error", 20},     {"failed", "error", 20},
      {"cancelled", "cancelled", 30}, {"canceled", "cancelled", 30},
  };
  for (const Name& n : kNames) {
    if (word == n.word) {
      if (canonical != nullptr) *canonical = std::string(n.canonical);
      return n.code;
    }
  }
  return std::nullopt;
}

StatusOr<std::string> ReadConfigText(const std::string& path) {
  // O_NONBLOCK: opening a FIFO must not wait for a writer. Only a regular file is read, and at
  // most kMaxConfigBytes of it: /dev/zero, a directory or a 100 MB file is refused, not read.
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return NotFoundError(path + ": cannot read config file (" + std::strerror(errno) + ")");
  struct stat st {};
  std::string text;
  Status s;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    s = InvalidArgumentError(path + ": not a regular file");
  } else if (st.st_size > static_cast<off_t>(kMaxConfigBytes)) {
    s = InvalidArgumentError(path + ": " + std::to_string(st.st_size) + " bytes; a config file may hold at most " +
                             std::to_string(kMaxConfigBytes));
  } else {
    char buf[16384];
    for (;;) {
      const ssize_t n = ::read(fd, buf, sizeof(buf));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        s = NotFoundError(path + ": cannot read config file (" + std::strerror(errno) + ")");
        break;
      }
      if (n == 0) break;
      text.append(buf, static_cast<size_t>(n));
      if (text.size() > kMaxConfigBytes) {  // grew while being read
        s = InvalidArgumentError(path + ": a config file may hold at most " + std::to_string(kMaxConfigBytes) + " bytes");
        break;
      }
    }
  }
  ::close(fd);
  if (!s.ok()) return s;
  return text;
}

StatusOr<Config> LoadConfigFile(const std::string& path, const EnvLookup& env, const LoadOptions& options) {
  StatusOr<std::string> read = ReadConfigText(path);
  if (!read.ok()) return read.status();
  const std::string& text = *read;
  StatusOr<Config> c = ParseConfig(text, env, path, options);
  if (!c.ok()) return c;
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && (st.st_mode & S_IROTH) != 0) {
    std::vector<std::string> keys = LiteralSecretKeys(text);
    if (!keys.empty()) {
      std::string list;
      for (const std::string& k : keys) list += (list.empty() ? "" : ", ") + k;
      char mode[8];
      std::snprintf(mode, sizeof(mode), "%04o", static_cast<unsigned>(st.st_mode & 07777));
      c->warnings.push_back(path + " is readable by every user (mode " + mode + ") and holds secrets (" + list +
                            "): chmod 600 it, or move them to environment variables with ${VAR}");
    }
  }
  return c;
}

namespace {

// The one reading of RUDDERSTACK_API_TOKEN, _REGION and _API_BASE, normalised and checked as
// the file's [rudderstack] section is.
void RudderstackFromEnvironment(const EnvLookup& env, Problems& p, RudderstackConfig* rs) {
  if (auto v = env("RUDDERSTACK_API_TOKEN")) rs->token = *v;
  if (auto v = env("RUDDERSTACK_REGION")) rs->region = *v;
  if (auto v = env("RUDDERSTACK_API_BASE"); v && !v->empty()) {
    if (!ValidBaseUrl(*v)) p.Add("RUDDERSTACK_API_BASE", "not an http(s) URL");
    rs->api_base = NormaliseBase(*v);
  }
  if (rs->region != "us" && rs->region != "eu") p.Add("RUDDERSTACK_REGION", "must be us or eu");
}

}  // namespace

StatusOr<RudderstackConfig> RudderstackFromEnvironment(const EnvLookup& env) {
  Problems p;
  RudderstackConfig rs;
  RudderstackFromEnvironment(env, p, &rs);
  if (!p.empty()) return p.ToStatus("environment");
  return rs;
}

StatusOr<Config> ConfigFromEnvironment(const EnvLookup& env, const LoadOptions& options) {
  Problems p;
  Config c;
  c.source = "environment";
  auto token = env("RUDDERSTACK_API_TOKEN");
  auto connection = env("RETL_CONNECTION_ID");
  if (!token || token->empty()) p.Add("RUDDERSTACK_API_TOKEN", "not set (no --config given, so zero-config mode needs it)");
  if (!connection || connection->empty()) p.Add("RETL_CONNECTION_ID", "not set (no --config given, so zero-config mode needs it)");
  if (connection && !connection->empty()) {
    if (Status s = CheckRudderstackId(*connection, "RETL_CONNECTION_ID"); !s.ok()) p.Add(s.message());
  }
  RudderstackFromEnvironment(env, p, &c.rudderstack);
  if (auto v = env("DBT_WEBHOOK_SECRET"); v && !v->empty()) c.dbt.webhook_secrets.push_back(*v);
  if (auto v = env("RETL_RELAY_ALLOW_UNSIGNED")) c.dbt.allow_unsigned = (*v == "true" || *v == "1");
  if (auto v = env("RETL_RELAY_STORE_URL")) {
    c.store.url = *v;
  } else {
    c.store.url = DefaultStoreUrl(env);
    c.store.url_defaulted = true;
  }
  if (auto v = env("RETL_RELAY_LISTEN")) {
    c.server.listen = *v;
  } else if (auto port = env("PORT"); port && !port->empty()) {
    c.server.listen = "0.0.0.0:" + *port;  // Cloud Run, Knative: the port to serve on
  }
  if (auto v = env("RETL_RELAY_ADMIN_TOKEN")) c.admin.token = *v;
  if (auto v = env("RETL_RELAY_ADMIN_LISTEN")) c.admin.listen = *v;
  ResolveStore(p, c.store);
  if (auto account = env("DBT_CLOUD_ACCOUNT_ID"); account && !account->empty()) {
    // Reconciliation in zero-config mode: the [dbt_cloud] keys from DBT_CLOUD_* variables,
    // checked as the file's section is (the token comes from DBT_CLOUD_API_TOKEN there too).
    toml::table section;
    section.insert("account_id", *account);
    if (auto v = env("DBT_CLOUD_API_BASE"); v && !v->empty()) section.insert("api_base", *v);
    if (auto v = env("DBT_CLOUD_RECONCILE_INTERVAL"); v && !v->empty()) section.insert("reconcile_interval", *v);
    if (auto v = env("DBT_CLOUD_VERIFY_RUNS")) section.insert("verify_runs", *v == "true" || *v == "1");
    toml::table root;
    root.insert("dbt_cloud", std::move(section));
    ReadDbtCloud(root, env, p, c.dbt_cloud);
  }
  if (connection && !connection->empty()) {
    Route r;
    r.name = "default";
    r.connections = {*connection};
    c.routes.push_back(std::move(r));
  }
  FinishLoad(options, p, c);
  if (!p.empty()) return p.ToStatus("environment");
  return c;
}

std::vector<std::string> ServeProblems(const Config& config) {
  std::vector<std::string> out;
  if (config.dbt.webhook_secrets.empty() && !config.dbt.allow_unsigned) {
    out.push_back(
        "dbt.webhook_secret: not set. The relay verifies dbt Cloud's signature and fails closed: "
        "set dbt.webhook_secret (or DBT_WEBHOOK_SECRET), or set dbt.allow_unsigned = true "
        "(RETL_RELAY_ALLOW_UNSIGNED=true) to accept unsigned webhooks knowingly");
  }
  if (Status s = CheckListenAddress(config.server.listen); !s.ok()) {
    out.push_back("server.listen: \"" + config.server.listen + "\": " + s.message());
  }
  if (!config.admin.listen.empty()) {
    if (Status s = CheckListenAddress(config.admin.listen); !s.ok()) {
      out.push_back("admin.listen: \"" + config.admin.listen + "\": " + s.message());
    } else if (config.admin.listen == config.server.listen && !config.server.listen.ends_with(":0")) {
      out.push_back("admin.listen: is server.listen; the admin listener needs an address of its own");
    }
  }
  return out;
}

std::vector<std::string> ProblemLines(const std::string& message) {
  std::vector<std::string> out;
  size_t at = message.find("\n  ");
  if (at == std::string::npos) return {message};
  while (at != std::string::npos) {
    const size_t next = message.find("\n  ", at + 3);
    out.push_back(message.substr(at + 3, next == std::string::npos ? std::string::npos : next - at - 3));
    at = next;
  }
  return out;
}

StatusOr<Config> LoadConfig(const std::string& path, const EnvLookup& env, const LoadOptions& options) {
  return path.empty() ? ConfigFromEnvironment(env, options) : LoadConfigFile(path, env, options);
}

std::string ConfigPath(const std::string& flag, const EnvLookup& env) {
  if (!flag.empty()) return flag;
  if (auto v = env("RETL_RELAY_CONFIG"); v && !v->empty()) return *v;
  std::error_code ec;
  if (std::filesystem::is_regular_file(kDefaultConfigFile, ec)) return kDefaultConfigFile;
  return "";
}

}  // namespace relay::config
