// The status page's files: served from the binary with ETags and a strict CSP.

#include "admin/ui_handler.h"

#include <gtest/gtest.h>

#include "admin/ui_assets.h"

namespace relay::admin {
namespace {

namespace bhttp = boost::beast::http;

http::Request Get(std::string target, std::string if_none_match = "") {
  http::Request req{bhttp::verb::get, target, 11};
  if (!if_none_match.empty()) req.set(bhttp::field::if_none_match, if_none_match);
  return req;
}

TEST(UiHandlerTest, ServesThePageWithAStrictPolicyAndRevalidates) {
  EXPECT_TRUE(UiHandler::Owns("/ui/"));
  EXPECT_TRUE(UiHandler::Owns("/ui"));
  EXPECT_TRUE(UiHandler::Owns("/ui/app.js?v=1"));
  EXPECT_FALSE(UiHandler::Owns("/uix"));
  EXPECT_FALSE(UiHandler::Owns("/api/v1/status"));

  http::Response page = UiHandler::Answer(Get("/ui/"));
  ASSERT_EQ(page.result_int(), 200);
  EXPECT_EQ(page[bhttp::field::content_type], "text/html; charset=utf-8");
  EXPECT_NE(page.body().find("<script src=\"app.js\" defer></script>"), std::string::npos);
  EXPECT_EQ(page.body().find("<script>"), std::string::npos) << "no inline script: the CSP forbids it";
  EXPECT_EQ(page.body().find("http://"), std::string::npos) << "nothing from another origin";
  EXPECT_EQ(page.body().find("https://"), std::string::npos) << "nothing from another origin";
  EXPECT_EQ(page["Content-Security-Policy"], UiHandler::kContentSecurityPolicy);
  EXPECT_NE(std::string(page["Content-Security-Policy"]).find("default-src 'none'"), std::string::npos);
  EXPECT_EQ(page["X-Content-Type-Options"], "nosniff");
  EXPECT_EQ(page[bhttp::field::cache_control], "no-cache");
  const std::string etag(page[bhttp::field::etag]);
  ASSERT_EQ(etag.size(), 34u) << etag;

  // The same ETag: 304 without a body; another one: the file again.
  http::Response again = UiHandler::Answer(Get("/ui/", etag));
  EXPECT_EQ(again.result_int(), 304);
  EXPECT_TRUE(again.body().empty());
  EXPECT_EQ(UiHandler::Answer(Get("/ui/", "\"x\", W/" + etag)).result_int(), 304);
  EXPECT_EQ(UiHandler::Answer(Get("/ui/", "\"0000\"")).result_int(), 200);

  http::Response js = UiHandler::Answer(Get("/ui/app.js"));
  ASSERT_EQ(js.result_int(), 200);
  EXPECT_EQ(js[bhttp::field::content_type], "text/javascript; charset=utf-8");
  EXPECT_NE(js[bhttp::field::etag], etag) << "one ETag per file";
  EXPECT_EQ(UiHandler::Answer(Get("/ui/app.css"))[bhttp::field::content_type], "text/css; charset=utf-8");

  http::Response bare = UiHandler::Answer(Get("/ui"));
  EXPECT_EQ(bare.result_int(), 301);
  EXPECT_EQ(bare[bhttp::field::location], "/ui/");
  EXPECT_EQ(UiHandler::Answer(Get("/ui/../relay.toml")).result_int(), 404);
  EXPECT_EQ(UiHandler::Answer(Get("/ui/nothing.js")).result_int(), 404);
  http::Request post{bhttp::verb::post, "/ui/", 11};
  http::Response refused = UiHandler::Answer(post);
  EXPECT_EQ(refused.result_int(), 405);
  EXPECT_EQ(refused[bhttp::field::allow], "GET, HEAD");
}

TEST(UiHandlerTest, EveryFileOfUiIsEmbedded) {
  std::vector<std::string> names;
  for (const UiAsset& a : UiAssets()) {
    names.emplace_back(a.name);
    EXPECT_GT(a.bytes.size(), 100u) << a.name;
  }
  EXPECT_EQ(names, (std::vector<std::string>{"index.html", "app.js", "app.css"}));
}

}  // namespace
}  // namespace relay::admin
