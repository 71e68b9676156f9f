// `retl-relay probe [URL]`: GETs a running relay's /healthz (the container image's HEALTHCHECK,
// a Kubernetes exec probe, a deploy script), so the image needs no curl. Exit 0 on a 2xx
// answer, 1 otherwise, with one line saying what came back.

#include <iostream>

#include "cli/commands.h"
#include "config/config_loader.h"
#include "httpc/http_call.h"

namespace relay::cli {
namespace {

struct ProbeOptions {
  std::string url;
  double timeout_s = 3;
  bool quiet = false;
};

// /healthz on the port the relay listens on, as serve would work it out: the config file's
// server.listen (config::ConfigPath), else RETL_RELAY_LISTEN, else PORT, else 8080; on
// loopback when it listens on every address.
std::string DefaultUrl() {
  const auto env = config::ProcessEnv();
  std::string listen;
  if (const std::string path = config::ConfigPath("", env); !path.empty()) {
    if (auto c = config::LoadConfigFile(path, env); c.ok()) listen = c->server.listen;
  }
  if (listen.empty()) listen = env("RETL_RELAY_LISTEN").value_or("");
  if (listen.empty()) {
    const std::string port = env("PORT").value_or("");
    listen = "0.0.0.0:" + (port.empty() ? std::string("8080") : port);
  }
  return LocalUrl(listen, "/healthz");
}

int Probe(const ProbeOptions& opt) {
  httpc::Request req;
  req.url = opt.url.empty() ? DefaultUrl() : opt.url;
  if (!req.url.starts_with("http://") && !req.url.starts_with("https://")) {
    std::cerr << "error: the URL must start with http:// or https://\n";
    return kExitUsage;
  }
  const auto timeout = std::chrono::milliseconds(static_cast<int64_t>(opt.timeout_s * 1000));
  req.connect_timeout = timeout;
  req.timeout = timeout;
  const httpc::Exchange ex = httpc::Perform(req);
  const bool ok = ex.code == CURLE_OK && ex.status >= 200 && ex.status < 300;
  if (!opt.quiet) {
    if (ex.code != CURLE_OK) {
      std::cout << req.url << ": " << ex.curl_error << "\n";
    } else {
      std::cout << req.url << ": " << ex.status << " " << ex.body.substr(0, 200)
                << (ex.body.size() > 200 ? "…" : "") << (ex.body.ends_with('\n') ? "" : "\n");
    }
  }
  return ok ? kExitOk : kExitFailure;
}

}  // namespace

Runner SetupProbe(CLI::App& app) {
  auto opt = std::make_shared<ProbeOptions>();
  app.add_option("url", opt->url, "what to GET (default: /healthz where the relay listens: the config file's server.listen, else "
                 "RETL_RELAY_LISTEN, else PORT, else 8080)");
  app.add_option("--timeout", opt->timeout_s, "seconds to wait for the answer")->capture_default_str();
  app.add_flag("-q,--quiet", opt->quiet, "print nothing; the exit code says it");
  return [opt] { return Probe(*opt); };
}

}  // namespace relay::cli
