#include "config/config_loader.h"

#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "common/redact.h"
#include <map>

namespace relay::config {
namespace {

EnvLookup Env(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](std::string_view name) -> std::optional<std::string> {
    auto it = vars.find(std::string(name));
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

constexpr const char* kFull = R"(
[server]
listen = "127.0.0.1:9000"
max_body_bytes = 65536
header_timeout = "5s"

[store]
url = "sqlite:///tmp/relay.db"

[dbt]
webhook_secret = "${DBT_SECRET}"

[rudderstack]
region = "eu"
token = "${RS_TOKEN}"

[dispatch]
retry_initial = "250ms"
max_age = "2h"

[[route]]
name = "salesforce"
job_ids = ["123", 456]
on = ["success", "error"]
connections = ["2abc", "2def"]
sync_type = "full"
if_running = "skip"

[[route]]
connections = ["2xyz"]
)";

TEST(ConfigLoaderTest, ParsesTheDesignExample) {
  auto c = ParseConfig(kFull, Env({{"DBT_SECRET", "test-secret"}, {"RS_TOKEN", "test-token"}}));
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->server.listen, "127.0.0.1:9000");
  EXPECT_EQ(c->server.max_body_bytes, 65536u);
  EXPECT_EQ(c->server.header_timeout, std::chrono::seconds(5));
  EXPECT_EQ(c->store.sqlite_path, "/tmp/relay.db");
  ASSERT_EQ(c->dbt.webhook_secrets.size(), 1u);
  EXPECT_EQ(c->dbt.webhook_secrets[0], "test-secret");
  EXPECT_EQ(ApiBase(c->rudderstack), "https://api.eu.rudderstack.com");
  EXPECT_EQ(c->rudderstack.token, "test-token");
  EXPECT_EQ(c->dispatch.retry_initial, std::chrono::milliseconds(250));
  EXPECT_EQ(c->dispatch.max_age, std::chrono::hours(2));
  ASSERT_EQ(c->routes.size(), 2u);
  const Route& r = c->routes[0];
  EXPECT_EQ(r.name, "salesforce");
  EXPECT_EQ(r.job_ids, (std::vector<int64_t>{123, 456}));
  EXPECT_EQ(r.on_status_codes, (std::vector<int>{10, 20}));
  EXPECT_EQ(r.connections, (std::vector<std::string>{"2abc", "2def"}));
  EXPECT_EQ(r.sync_type, SyncType::kFull);
  EXPECT_EQ(r.if_running, IfRunning::kSkip);
  EXPECT_EQ(c->routes[1].name, "route-2");
  EXPECT_EQ(c->routes[1].on_status_codes, (std::vector<int>{10}));
  EXPECT_EQ(c->routes[1].sync_type, SyncType::kIncremental);
}

TEST(ConfigLoaderTest, SecretsComeFromTheEnvironmentWhenTheFileLeavesThemOut) {
  auto c = ParseConfig("[[route]]\nconnections = [\"c\"]\n",
                       Env({{"DBT_WEBHOOK_SECRET", "from-env"}, {"RUDDERSTACK_API_TOKEN", "token-from-env"}}));
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->dbt.webhook_secrets, std::vector<std::string>{"from-env"});
  EXPECT_EQ(c->rudderstack.token, "token-from-env");
  EXPECT_EQ(ApiBase(c->rudderstack), "https://api.rudderstack.com");
}

TEST(ConfigLoaderTest, ReportsEveryProblemWithItsKey) {
  constexpr const char* kBad = R"(
bogus = 1
[server]
listen = "127.0.0.1:1"
colour = "blue"
[rudderstack]
region = "mars"
api_base = "ftp://example"
token = "${MISSING_VAR}"
[[route]]
name = "a"
connections = []
[[route]]
name = "a"
connections = ["c"]
on = ["sucess"]
sync_type = "partial"
if_running = "panic"
job_ids = ["12x"]
)";
  auto c = ParseConfig(kBad, Env({}));
  ASSERT_FALSE(c.ok());
  const std::string m = c.status().message();
  for (const char* expected : {"bogus: unknown key", "server.colour: unknown key", "rudderstack.region: unknown region",
                               "rudderstack.api_base: not an http(s) URL", "MISSING_VAR is not set",
                               "route[0].connections: must list at least one", "route[1].name: duplicate route name",
                               "route[1].on: unknown outcome \"sucess\"", "route[1].sync_type", "route[1].if_running",
                               "route[1].job_ids: \"12x\" is not a numeric dbt id"}) {
    EXPECT_NE(m.find(expected), std::string::npos) << "missing: " << expected << "\nin:\n" << m;
  }
}

TEST(ConfigLoaderTest, SyntaxErrorNamesLine) {
  auto c = ParseConfig("[server\nlisten = 1", Env({}), "relay.toml");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("relay.toml:1:"), std::string::npos) << c.status().message();
}

TEST(ConfigLoaderTest, NoRoutesIsAnError) {
  auto c = ParseConfig("[rudderstack]\ntoken = \"test-token\"\n", Env({}));
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("no [[route]]"), std::string::npos);
}

TEST(ConfigLoaderTest, ZeroConfigModeFromTheSeedVariables) {
  auto c = ConfigFromEnvironment(Env({{"RUDDERSTACK_API_TOKEN", "test-token"}, {"RETL_CONNECTION_ID", "2conn"},
                                      {"DBT_WEBHOOK_SECRET", "test-secret"}}));
  ASSERT_TRUE(c.ok()) << c.status().message();
  ASSERT_EQ(c->routes.size(), 1u);
  EXPECT_EQ(c->routes[0].connections, std::vector<std::string>{"2conn"});
  EXPECT_EQ(c->routes[0].on_status_codes, std::vector<int>{10});
  EXPECT_EQ(c->routes[0].sync_type, SyncType::kIncremental);
  EXPECT_TRUE(ServeProblems(*c).empty());
}

TEST(ConfigLoaderTest, DbtCloudSectionIsOptionalAndChecked) {
  const std::string base = "[rudderstack]\ntoken = \"test-token\"\n[[route]]\nconnections = [\"c\"]\n";
  auto none = ParseConfig(base, Env({{"DBT_CLOUD_API_TOKEN", "dbt-cloud-token"}}));
  ASSERT_TRUE(none.ok()) << none.status().message();
  EXPECT_FALSE(none->dbt_cloud.enabled()) << "the token alone calls nothing";

  auto on = ParseConfig(base + "[dbt_cloud]\napi_base = \"https://emea.dbt.com/\"\naccount_id = 12345\n"
                               "reconcile_interval = \"1m\"\nlookback = \"6h\"\nverify_runs = true\n",
                        Env({{"DBT_CLOUD_API_TOKEN", "dbt-cloud-token"}}));
  ASSERT_TRUE(on.ok()) << on.status().message();
  EXPECT_TRUE(on->dbt_cloud.enabled());
  EXPECT_EQ(on->dbt_cloud.api_base, "https://emea.dbt.com");
  EXPECT_EQ(on->dbt_cloud.account_id, "12345");
  EXPECT_EQ(on->dbt_cloud.token, "dbt-cloud-token");
  EXPECT_EQ(on->dbt_cloud.reconcile_interval, std::chrono::minutes(1));
  EXPECT_EQ(on->dbt_cloud.lookback, std::chrono::hours(6));
  EXPECT_TRUE(on->dbt_cloud.verify_runs);

  auto off = ParseConfig(base + "[dbt_cloud]\naccount_id = \"1\"\ntoken = \"test-token\"\nreconcile_interval = \"0s\"\n", Env({}));
  ASSERT_TRUE(off.ok()) << off.status().message();
  EXPECT_EQ(off->dbt_cloud.reconcile_interval.count(), 0);

  auto bad = ParseConfig(base + "[dbt_cloud]\naccount_id = \"acme\"\napi_base = \"cloud.getdbt.com\"\n"
                                "reconcile_interval = \"500ms\"\nlookback = \"0s\"\nwatermark = 1\n",
                         Env({}));
  ASSERT_FALSE(bad.ok());
  for (const char* key : {"dbt_cloud.account_id", "dbt_cloud.api_base", "dbt_cloud.token", "dbt_cloud.reconcile_interval",
                          "dbt_cloud.lookback", "dbt_cloud.watermark"}) {
    EXPECT_NE(bad.status().message().find(key), std::string::npos) << key << "\n" << bad.status().message();
  }
}

TEST(ConfigLoaderTest, DbtCloudInZeroConfigMode) {
  auto c = ConfigFromEnvironment(Env({{"RUDDERSTACK_API_TOKEN", "test-token"}, {"RETL_CONNECTION_ID", "2conn"},
                                      {"DBT_WEBHOOK_SECRET", "test-secret"}, {"DBT_CLOUD_ACCOUNT_ID", "77"},
                                      {"DBT_CLOUD_API_TOKEN", "dbt-SECRET"}, {"DBT_CLOUD_VERIFY_RUNS", "true"}}));
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->dbt_cloud.account_id, "77");
  EXPECT_EQ(c->dbt_cloud.api_base, "https://cloud.getdbt.com");
  EXPECT_TRUE(c->dbt_cloud.verify_runs);
  auto missing = ConfigFromEnvironment(Env({{"RUDDERSTACK_API_TOKEN", "test-token"}, {"RETL_CONNECTION_ID", "2conn"},
                                            {"DBT_CLOUD_ACCOUNT_ID", "77"}}));
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("dbt_cloud.token"), std::string::npos);
}

TEST(ConfigLoaderTest, ZeroConfigNamesMissingVariables) {
  auto c = ConfigFromEnvironment(Env({}));
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("RUDDERSTACK_API_TOKEN"), std::string::npos);
  EXPECT_NE(c.status().message().find("RETL_CONNECTION_ID"), std::string::npos);
}

// check-config and serve report every problem in one run: the missing secret used to come
// only on a second run, after the variables were fixed.
TEST(ConfigLoaderTest, ForServeEveryProblemComesAtOnce) {
  LoadOptions serve;
  serve.for_serve = true;
  auto c = ConfigFromEnvironment(Env({{"RETL_RELAY_LISTEN", "localhost:8080"}}), serve);
  ASSERT_FALSE(c.ok());
  for (const char* key : {"RUDDERSTACK_API_TOKEN", "RETL_CONNECTION_ID", "dbt.webhook_secret", "server.listen"}) {
    EXPECT_NE(c.status().message().find(key), std::string::npos) << key << " in " << c.status().message();
  }
  // What serve used to refuse only after creating the database file.
  for (std::string listen : {"0.0.0.0:80800", "localhost:8080", "8080", "0.0.0.0:", "1.2.3:80", "[::1:80"}) {
    auto bad = ParseConfig("[server]\nlisten = \"" + listen + "\"\n[dbt]\nwebhook_secret = \"test-secret\"\n[rudderstack]\ntoken = \"test-token\"\n"
                           "[[route]]\nconnections = [\"c\"]\n", Env({}), "config", serve);
    ASSERT_FALSE(bad.ok()) << listen;
    EXPECT_NE(bad.status().message().find("server.listen"), std::string::npos) << bad.status().message();
  }
  for (std::string listen : {"0.0.0.0:8080", "127.0.0.1:0", "[::]:8080", "[::1]:9000"}) {
    EXPECT_TRUE(CheckListenAddress(listen).ok()) << listen;
  }
  // Without for_serve (the inspection commands), the same config loads.
  EXPECT_TRUE(ParseConfig("[server]\nlisten = \"localhost:8080\"\n[rudderstack]\ntoken = \"test-token\"\n[[route]]\nconnections = [\"c\"]\n",
                          Env({})).ok());
}

TEST(ConfigLoaderTest, OutcomeNamesOneVocabularyWithAliasesNoted) {
  auto c = ParseConfig("[dbt]\nwebhook_secret = \"test-secret\"\n[rudderstack]\ntoken = \"test-token\"\n"
                       "[[route]]\non = [\"success\", \"errored\", \"canceled\"]\nconnections = [\"c\"]\n", Env({}));
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->routes[0].on_status_codes, (std::vector<int>{10, 20, 30}));
  ASSERT_EQ(c->warnings.size(), 2u);
  EXPECT_NE(c->warnings[0].find("\"errored\" read as \"error\""), std::string::npos) << c->warnings[0];
  std::string canonical;
  EXPECT_EQ(RunStatusCodeFor("succeeded", &canonical), 10);
  EXPECT_EQ(canonical, "success");
  EXPECT_EQ(RunStatusCodeFor("cancelled", &canonical), 30);
  EXPECT_FALSE(RunStatusCodeFor("done").has_value());
}

TEST(ConfigLoaderTest, TheDefaultStoreDoesNotDependOnTheCurrentDirectory) {
  EXPECT_EQ(DefaultStoreUrl(Env({{"STATE_DIRECTORY", "/var/lib/retl-relay:/var/lib/other"}}), false),
            "sqlite:///var/lib/retl-relay/relay.db");
  EXPECT_EQ(DefaultStoreUrl(Env({}), true), "sqlite:///var/lib/retl-relay/relay.db");
  EXPECT_EQ(DefaultStoreUrl(Env({{"XDG_STATE_HOME", "/home/a/.state"}, {"HOME", "/home/a"}}), false),
            "sqlite:///home/a/.state/retl-relay/relay.db");
  EXPECT_EQ(DefaultStoreUrl(Env({{"HOME", "/home/a"}}), false), "sqlite:///home/a/.local/state/retl-relay/relay.db");
  auto c = ParseConfig("[rudderstack]\ntoken = \"test-token\"\n[[route]]\nconnections = [\"c\"]\n", Env({{"STATE_DIRECTORY", "/srv/state"}}));
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->store.url, "sqlite:///srv/state/relay.db");
  EXPECT_EQ(c->store.retention, std::chrono::hours(24 * 90));
  auto keep = ParseConfig("[store]\nretention = \"0s\"\n[rudderstack]\ntoken = \"test-token\"\n[[route]]\nconnections = [\"c\"]\n", Env({}));
  ASSERT_TRUE(keep.ok()) << keep.status().message();
  EXPECT_EQ(keep->store.retention.count(), 0);
  auto too_short = ParseConfig("[store]\nretention = \"1h\"\n[rudderstack]\ntoken = \"test-token\"\n[[route]]\nconnections = [\"c\"]\n", Env({}));
  ASSERT_FALSE(too_short.ok());
  EXPECT_NE(too_short.status().message().find("store.retention"), std::string::npos);
}

TEST(ConfigLoaderTest, ServeRefusesWithoutSecretUnlessAllowUnsigned) {
  auto c = ConfigFromEnvironment(Env({{"RUDDERSTACK_API_TOKEN", "test-token"}, {"RETL_CONNECTION_ID", "c"}}));
  ASSERT_TRUE(c.ok());
  ASSERT_EQ(ServeProblems(*c).size(), 1u);
  EXPECT_NE(ServeProblems(*c)[0].find("dbt.webhook_secret"), std::string::npos);
  auto unsigned_ok = ParseConfig("[dbt]\nallow_unsigned = true\n[rudderstack]\ntoken = \"test-token\"\n[[route]]\nconnections = [\"c\"]\n", Env({}));
  ASSERT_TRUE(unsigned_ok.ok()) << unsigned_ok.status().message();
  EXPECT_TRUE(ServeProblems(*unsigned_ok).empty());
}

TEST(ConfigLoaderTest, SecretsNeverAppearInErrors) {
  auto c = ParseConfig("[rudderstack]\ntoken = \"tok-SECRET\"\nregion = \"xx\"\n[dbt]\nwebhook_secret = \"hook-SECRET\"\n", Env({}));
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message().find("SECRET"), std::string::npos) << c.status().message();
}

// Found by fuzz_config: a value substituted from the environment was echoed in a problem.
TEST(ConfigLoaderTest, ValuesFromTheEnvironmentAreRedactedInErrors) {
  auto c = ParseConfig("[rudderstack]\nregion = \"${X}\"\n[[route]]\non = [\"${X}\"]\nconnections = [\"c\"]\n",
                       Env({{"X", "top-SECRET"}, {"RUDDERSTACK_API_TOKEN", "test-token"}}));
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message().find("SECRET"), std::string::npos) << c.status().message();
  EXPECT_NE(c.status().message().find("unknown region \"<value of $X>\""), std::string::npos) << c.status().message();
}

TEST(ConfigLoaderTest, LiteralSecretsAreFoundAndVariablesAreNot) {
  EXPECT_TRUE(LiteralSecretKeys(kFull).empty());
  auto keys = LiteralSecretKeys(
      "[rudderstack]\ntoken = \"test-token\"\n[dbt]\nwebhook_secrets = [\"${A}\", \"lit\"]\n[admin]\ntoken = \"${ADM}\"\n"
      "[store]\nurl = \"postgresql://u:pw@db/relay\"\n");
  EXPECT_EQ(keys, (std::vector<std::string>{"rudderstack.token", "dbt.webhook_secrets", "store.url (password)"}));
}

// Writes `text` to a fresh file with `mode` and loads it.
StatusOr<Config> LoadWithMode(const std::string& text, mode_t mode) {
  char path[] = "/tmp/relay-config-XXXXXX";
  int fd = mkstemp(path);
  EXPECT_GE(fd, 0);
  EXPECT_EQ(write(fd, text.data(), text.size()), static_cast<ssize_t>(text.size()));
  close(fd);
  chmod(path, mode);
  StatusOr<Config> c = LoadConfigFile(path, Env({{"DBT_SECRET", "test-secret"}, {"RS_TOKEN", "test-token"}}));
  unlink(path);
  return c;
}

TEST(ConfigLoaderTest, WorldReadableFileWithLiteralSecretsWarnsWithoutTheSecret) {
  const std::string literal = "[rudderstack]\ntoken = \"tok-SECRET\"\n[dbt]\nwebhook_secret = \"${DBT_SECRET}\"\n"
                              "[[route]]\nconnections = [\"c\"]\n";
  auto open = LoadWithMode(literal, 0644);
  ASSERT_TRUE(open.ok()) << open.status().message();
  ASSERT_EQ(open->warnings.size(), 1u);
  EXPECT_NE(open->warnings[0].find("mode 0644"), std::string::npos) << open->warnings[0];
  EXPECT_NE(open->warnings[0].find("rudderstack.token"), std::string::npos);
  EXPECT_EQ(open->warnings[0].find("SECRET"), std::string::npos);
  auto private_file = LoadWithMode(literal, 0600);
  ASSERT_TRUE(private_file.ok());
  EXPECT_TRUE(private_file->warnings.empty());
  auto from_env = LoadWithMode(kFull, 0644);
  ASSERT_TRUE(from_env.ok()) << from_env.status().message();
  EXPECT_TRUE(from_env->warnings.empty());
}

TEST(ConfigLoaderTest, ServerLimitsAreRead) {
  auto c = ParseConfig("[server]\nmax_connections = 50\nshutdown_timeout = \"3s\"\n[[route]]\nconnections = [\"c\"]\n",
                       Env({{"DBT_WEBHOOK_SECRET", "test-secret"}, {"RUDDERSTACK_API_TOKEN", "test-token"}}));
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->server.max_connections, 50);
  EXPECT_EQ(c->server.shutdown_timeout, std::chrono::seconds(3));
  EXPECT_FALSE(ParseConfig("[server]\nmax_connections = 0\n[[route]]\nconnections = [\"c\"]\n", Env({})).ok());
}

TEST(ConfigLoaderTest, Durations) {
  EXPECT_EQ(*ParseDuration("500ms"), std::chrono::milliseconds(500));
  EXPECT_EQ(*ParseDuration("10s"), std::chrono::seconds(10));
  EXPECT_EQ(*ParseDuration("5m"), std::chrono::minutes(5));
  EXPECT_EQ(*ParseDuration("24h"), std::chrono::hours(24));
  EXPECT_EQ(*ParseDuration("7"), std::chrono::seconds(7));
  EXPECT_FALSE(ParseDuration("").ok());
  EXPECT_FALSE(ParseDuration("5 parsecs").ok());
  EXPECT_FALSE(ParseDuration("-1s").ok());
}

TEST(ConfigLoaderTest, ApiBaseIsNormalised) {
  auto c = ParseConfig("[rudderstack]\ntoken = \"test-token\"\napi_base = \"http://127.0.0.1:9/v2/\"\n[[route]]\nconnections = [\"c\"]\n", Env({}));
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(ApiBase(c->rudderstack), "http://127.0.0.1:9");
}

}  // namespace
}  // namespace relay::config

namespace relay::config {
namespace {

constexpr const char* kBase = R"(
[dbt]
webhook_secret = "test-secret"
[rudderstack]
token = "test-token"
)";

StatusOr<Config> Parse(const std::string& extra) {
  return ParseConfig(std::string(kBase) + extra, [](std::string_view name) -> std::optional<std::string> {
    if (name == "SLACK_URL") return "https://hooks.slack.com/services/T1/B2/secret";
    return std::nullopt;
  });
}

TEST(ConfigLoaderFanInTest, AfterAllAndWithinAreRead) {
  auto c = Parse("[[route]]\nname = \"c360\"\nafter_all = [\"123\", 456]\nwithin = \"6h\"\nconnections = [\"2abc\"]\n");
  ASSERT_TRUE(c.ok()) << c.status().message();
  ASSERT_EQ(c->routes.size(), 1u);
  EXPECT_TRUE(c->routes[0].fan_in());
  EXPECT_EQ(c->routes[0].after_all, (std::vector<int64_t>{123, 456}));
  EXPECT_EQ(c->routes[0].within, std::chrono::hours(6));
  EXPECT_TRUE(c->routes[0].job_ids.empty());
}

TEST(ConfigLoaderFanInTest, MisusesAreClearErrors) {
  auto both = Parse("[[route]]\nafter_all = [\"1\", \"2\"]\njob_ids = [\"1\"]\nconnections = [\"c\"]\n");
  ASSERT_FALSE(both.ok());
  EXPECT_NE(both.status().message().find("route[0].job_ids: cannot be used with after_all"), std::string::npos)
      << both.status().message();
  auto one = Parse("[[route]]\nafter_all = [\"1\"]\nconnections = [\"c\"]\n");
  ASSERT_FALSE(one.ok());
  EXPECT_NE(one.status().message().find("at least two job ids"), std::string::npos);
  auto twice = Parse("[[route]]\nafter_all = [\"1\", 1]\nconnections = [\"c\"]\n");
  ASSERT_FALSE(twice.ok());
  EXPECT_NE(twice.status().message().find("lists a job id twice"), std::string::npos);
  auto within = Parse("[[route]]\nwithin = \"6h\"\nconnections = [\"c\"]\n");
  ASSERT_FALSE(within.ok());
  EXPECT_NE(within.status().message().find("applies only to a fan-in route"), std::string::npos);
}

TEST(ConfigLoaderAlertTest, SinksAreReadWithDefaults) {
  auto c = Parse(
      "[[route]]\nconnections = [\"c\"]\n"
      "[[alert]]\nkind = \"slack\"\nurl = \"${SLACK_URL}\"\non = [\"sync_failed\"]\n"
      "[[alert]]\nkind = \"webhook\"\nname = \"pager\"\nurl = \"https://alerts.example.com/retl\"\nsecret = \"sink-secret\"\n"
      "min_interval = \"0s\"\n"
      "[alerting]\npending_too_long = \"30m\"\nsignature_failures = 3\n");
  ASSERT_TRUE(c.ok()) << c.status().message();
  ASSERT_EQ(c->alerts.size(), 2u);
  EXPECT_EQ(c->alerts[0].name.rfind("slack-", 0), 0u) << c->alerts[0].name;
  EXPECT_EQ(c->alerts[0].name.size(), 14u) << "slack-<8 hex of the URL>: not the sink's place in the file";
  EXPECT_EQ(c->alerts[0].url, "https://hooks.slack.com/services/T1/B2/secret");
  EXPECT_EQ(c->alerts[0].on, std::vector<std::string>{"sync_failed"});
  EXPECT_EQ(c->alerts[0].min_interval, std::chrono::minutes(1));
  EXPECT_EQ(c->alerts[1].name, "pager");
  EXPECT_EQ(c->alerts[1].on.size(), 4u) << "every kind by default";
  EXPECT_EQ(c->alerts[1].min_interval, Duration{0});
  EXPECT_EQ(c->alerting.pending_too_long, std::chrono::minutes(30));
  EXPECT_EQ(c->alerting.signature_failures, 3);
}

TEST(ConfigLoaderAlertTest, DefaultNamesFollowTheUrlNotTheOrder) {
  const std::string a = "[[alert]]\nkind = \"webhook\"\nurl = \"https://a.example.com/x?token=1\"\n";
  const std::string b = "[[alert]]\nkind = \"webhook\"\nurl = \"https://b.example.com/y\"\n";
  auto one = Parse("[[route]]\nconnections = [\"c\"]\n" + a + b);
  auto two = Parse("[[route]]\nconnections = [\"c\"]\n" + b + a);
  ASSERT_TRUE(one.ok()) << one.status().message() << " (a query string is allowed: it may hold the token)";
  ASSERT_TRUE(two.ok());
  EXPECT_EQ(one->alerts[0].name, two->alerts[1].name);
  EXPECT_NE(one->alerts[0].name, one->alerts[1].name);
}

TEST(ConfigLoaderAlertTest, BadSinksAreClearErrors) {
  auto c = Parse(
      "[[route]]\nconnections = [\"c\"]\n"
      "[[alert]]\nkind = \"email\"\nurl = \"https://x\"\n"
      "[[alert]]\nkind = \"webhook\"\nurl = \"ftp://x\"\non = [\"sync_failled\"]\n"
      "[[alert]]\nkind = \"slack\"\nurl = \"https://x\"\nsecret = \"sink-secret\"\n");
  ASSERT_FALSE(c.ok());
  const std::string m = c.status().message();
  EXPECT_NE(m.find("alert[0].kind: unknown kind \"email\""), std::string::npos) << m;
  EXPECT_NE(m.find("alert[1].url: not an http(s) URL"), std::string::npos) << m;
  EXPECT_NE(m.find("alert[1].on: unknown alert \"sync_failled\""), std::string::npos) << m;
  EXPECT_NE(m.find("alert[2].secret: applies only to kind = \"webhook\""), std::string::npos) << m;
}

TEST(ConfigLoaderAlertTest, SinkUrlsAreShownWithoutTheirSecretParts) {
  EXPECT_EQ(RedactedUrl("https://hooks.slack.com/services/T1/B2/secret"), "https://hooks.slack.com/…");
  EXPECT_EQ(RedactedUrl("https://user:pw@alerts.example.com:8443/x?token=1"), "https://alerts.example.com:8443/…");
  EXPECT_EQ(RedactedUrl("http://127.0.0.1:9"), "http://127.0.0.1:9");
  const auto keys = LiteralSecretKeys(
      "[[alert]]\nkind = \"slack\"\nurl = \"https://hooks.slack.com/services/T/B/x\"\n"
      "[[alert]]\nkind = \"webhook\"\nurl = \"https://a.example.com\"\nsecret = \"${S}\"\n");
  EXPECT_EQ(keys, std::vector<std::string>{"alert[0].url"}) << "a literal Slack URL is a secret in the file";
}

}  // namespace
}  // namespace relay::config

namespace relay::config {
namespace {

// Cloud Run and Knative say where to listen with PORT; RETL_RELAY_LISTEN still wins.
TEST(ConfigLoaderDeployTest, PortSetsTheListenAddressInZeroConfigMode) {
  std::map<std::string, std::string> vars{
      {"RUDDERSTACK_API_TOKEN", "test-token"}, {"RETL_CONNECTION_ID", "c1"}, {"DBT_WEBHOOK_SECRET", "test-secret"}, {"PORT", "9000"}};
  auto c = ConfigFromEnvironment(Env(vars));
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->server.listen, "0.0.0.0:9000");
  vars["RETL_RELAY_LISTEN"] = "127.0.0.1:7000";
  EXPECT_EQ(ConfigFromEnvironment(Env(vars))->server.listen, "127.0.0.1:7000");
  vars.erase("RETL_RELAY_LISTEN");
  vars["PORT"] = "not-a-port";
  LoadOptions serve;
  serve.for_serve = true;
  auto bad = ConfigFromEnvironment(Env(vars), serve);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("server.listen"), std::string::npos) << bad.status().message();
}

TEST(ConfigLoaderDeployTest, ConfigPathPrefersTheFlagThenTheVariable) {
  EXPECT_EQ(ConfigPath("/x/relay.toml", Env({{"RETL_RELAY_CONFIG", "/y/relay.toml"}})), "/x/relay.toml");
  EXPECT_EQ(ConfigPath("", Env({{"RETL_RELAY_CONFIG", "/y/relay.toml"}})), "/y/relay.toml");
  // Without either: the system file when it exists (not on a test machine), else the environment.
  const bool system_file = std::filesystem::is_regular_file(kDefaultConfigFile);
  EXPECT_EQ(ConfigPath("", Env({})), system_file ? kDefaultConfigFile : "");
  EXPECT_EQ(ConfigPath("", Env({{"RETL_RELAY_CONFIG", ""}})), system_file ? kDefaultConfigFile : "");
}

TEST(ConfigLoaderDeployTest, StoreUrlPasswordsAreRedacted) {
  EXPECT_EQ(RedactedStoreUrl("postgresql://relay:s3cret@db:5432/relay"), "postgresql://relay:***@db:5432/relay");
  EXPECT_EQ(RedactedStoreUrl("postgres://relay@db/relay?sslmode=require&password=s3cret"),
            "postgres://relay@db/relay?sslmode=require&password=***");
  EXPECT_EQ(RedactedStoreUrl("postgresql://relay@db/relay"), "postgresql://relay@db/relay");
  EXPECT_EQ(RedactedStoreUrl("postgresql://db/relay?user=a@b"), "postgresql://db/relay?user=a@b");
  EXPECT_EQ(RedactedStoreUrl("sqlite:///var/lib/retl-relay/relay.db"), "sqlite:///var/lib/retl-relay/relay.db");
}

}  // namespace
}  // namespace relay::config

// ---- Round-3 hardening (issue 33): config input is bounded before toml++ sees it ----------

namespace relay::config {
namespace {

std::string Repeat(std::string_view piece, size_t n) {
  std::string out;
  out.reserve(piece.size() * n);
  for (size_t i = 0; i < n; ++i) out += piece;
  return out;
}

// 50,000 dotted parts segfaulted inside toml++ (its recursion per part overflowed the stack).
TEST(ConfigBoundsTest, DeepKeysAndHeadersAreRefusedBeforeParsing) {
  const std::string key = "a" + Repeat(".a", 50000);
  for (const std::string& text : {key + " = 1\n", "[" + key + "]\n", "[[" + key + "]]\n", "x = {" + key + " = 1}\n",
                                  "x = " + Repeat("[", 50000) + "\n"}) {
    auto c = ParseConfig(text, [](std::string_view) { return std::nullopt; });
    ASSERT_FALSE(c.ok());
    EXPECT_EQ(c.status().code(), StatusCode::kInvalidArgument);
    EXPECT_LT(c.status().message().size(), 300u) << "says what is wrong, does not quote it";
    EXPECT_TRUE(LiteralSecretKeys(text).empty());
  }
  // Dots inside strings, comments, floats and times are not key parts.
  auto ok = ParseConfig("# " + Repeat("a.", 100) + "\n[rudderstack]\ntoken = \"test-token\"\napi_base = \"http://" +
                            Repeat("a.", 40) + "example\"\n[[route]]\nconnections = [\"c\"]\nname = '''" +
                            Repeat("x.", 50) + "'''\n",
                        [](std::string_view) { return std::nullopt; });
  EXPECT_TRUE(ok.ok()) << ok.status().message();
  EXPECT_TRUE(ParseConfig("[a.b.c]\nx = 1\n", [](std::string_view) { return std::nullopt; }).status().message().find(
                  "dotted") == std::string::npos)
      << "a normal header goes on to the parser (and is then an unknown key)";
}

// `${S}` 20,000 times aborted with std::bad_alloc (1.5 GB).
TEST(ConfigBoundsTest, ExpansionIsBounded) {
  const std::string big(1000, 'v');
  auto env = [&](std::string_view name) -> std::optional<std::string> {
    if (name == "S") return big;
    if (name == "RUDDERSTACK_API_TOKEN") return std::string("test-token");
    return std::nullopt;
  };
  auto c = ParseConfig("[[route]]\nname = \"" + Repeat("${S}", 20000) + "\"\nconnections = [\"c\"]\n", env);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("too long once ${VAR} is expanded"), std::string::npos) << c.status().message();
  // Many values, each under the per-value bound, still meet the bound for the whole config.
  std::string many = "[rudderstack]\ntoken = \"test-token\"\n";
  for (int i = 0; i < 40; ++i) many += "[[route]]\nname = \"" + Repeat("${S}", 60) + "\"\nconnections = [\"c\"]\n";
  auto all = ParseConfig(many, env);
  ASSERT_FALSE(all.ok());
  EXPECT_NE(all.status().message().find("in all"), std::string::npos);
  EXPECT_GT(ParseConfig(std::string(kMaxConfigBytes + 1, '#'), env).status().message().find("at most"), 0u);
}

// A FIFO hung silently, /dev/zero read gigabytes, a directory read as an empty config.
TEST(ConfigBoundsTest, OnlyARegularFileOfBoundedSizeIsRead) {
  const std::string dir = std::filesystem::temp_directory_path() / ("relay-bounds-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string fifo = dir + "/fifo.toml";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  auto env = [](std::string_view) { return std::optional<std::string>(); };
  for (const std::string& path : {fifo, std::string("/dev/zero"), dir}) {
    StatusOr<Config> c = LoadConfigFile(path, env);
    ASSERT_FALSE(c.ok()) << path;
    EXPECT_NE(c.status().message().find("not a regular file"), std::string::npos) << c.status().message();
  }
  const std::string huge = dir + "/huge.toml";
  std::ofstream(huge) << std::string(kMaxConfigBytes + 1, '#');
  StatusOr<Config> c = LoadConfigFile(huge, env);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("at most"), std::string::npos) << c.status().message();
  EXPECT_EQ(LoadConfigFile(dir + "/missing.toml", env).status().code(), StatusCode::kNotFound);
  std::filesystem::remove_all(dir);
}

// CR/LF in a ${VAR} token reached RudderStack as an injected header (X-Injected: yes).
TEST(ConfigBoundsTest, ControlCharactersInSecretsAreRefused) {
  for (const char* var : {"RUDDERSTACK_API_TOKEN", "DBT_WEBHOOK_SECRET", "RETL_RELAY_ADMIN_TOKEN"}) {
    std::map<std::string, std::string> vars = {{"RUDDERSTACK_API_TOKEN", "test-token"},
                                               {"RETL_CONNECTION_ID", "c1"},
                                               {"DBT_WEBHOOK_SECRET", "test-secret"}};
    vars[var] = "good-token\r\nX-Injected: yes";
    auto c = ConfigFromEnvironment([&](std::string_view n) -> std::optional<std::string> {
      auto it = vars.find(std::string(n));
      return it == vars.end() ? std::nullopt : std::optional<std::string>(it->second);
    });
    ASSERT_FALSE(c.ok()) << var;
    EXPECT_NE(c.status().message().find("control character"), std::string::npos) << c.status().message();
    EXPECT_EQ(c.status().message().find("X-Injected"), std::string::npos) << "the value is never echoed";
  }
  auto file = ParseConfig("[rudderstack]\ntoken = \"test-\\ttoken\"\n[[route]]\nconnections = [\"c\"]\n",
                          [](std::string_view) { return std::nullopt; });
  ASSERT_FALSE(file.ok());
  EXPECT_NE(file.status().message().find("rudderstack.token: contains a control character"), std::string::npos);
}

// With a one-letter secret every occurrence of that letter in a message was replaced.
TEST(ConfigBoundsTest, ShortSecretsAreRefusedAndRedactionTakesWholeValues) {
  auto none = [](std::string_view) { return std::optional<std::string>(); };
  auto c = ParseConfig("[rudderstack]\ntoken = \"t\"\n[[route]]\nconnections = [\"c\"]\n", none);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("rudderstack.token: too short to be a secret"), std::string::npos)
      << c.status().message();
  // A short (non-secret) value from the environment is redacted where it stands whole only.
  auto region = ParseConfig("[rudderstack]\ntoken = \"test-token\"\nregion = \"${R}\"\n[[route]]\nconnections = [\"c\"]\n",
                            [](std::string_view n) -> std::optional<std::string> {
                              return n == "R" ? std::optional<std::string>("u") : std::nullopt;
                            });
  ASSERT_FALSE(region.ok());
  EXPECT_NE(region.status().message().find("rudderstack.region: unknown region \"<value of $R>\" (us or eu)"),
            std::string::npos)
      << region.status().message();
  EXPECT_EQ(RedactWhole("a secret: abc, abcd, xabc", "abc", "***"), "a secret: ***, abcd, xabc");
  EXPECT_EQ(RedactWhole("long-secret-value inside xlong-secret-valuex", "long-secret-value", "***"), "*** inside x***x")
      << "a value of secret length is redacted wherever it occurs";
}

}  // namespace
}  // namespace relay::config
