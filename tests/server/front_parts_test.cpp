// The HTTP front end's parts that need no socket: rate limiter, static files, log lines,
// metrics text.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "server/forwarded_client.h"
#include "server/http_metrics.h"
#include "server/log.h"
#include "server/rate_limiter.h"
#include "server/static_files.h"

namespace cellrtc::server {
namespace {

using ::testing::HasSubstr;

TEST(RateLimiter, BurstThenRate) {
  RateLimiter limiter(2, 3);  // 2 per second, 3 at once
  Instant t = Instant::from_us(1'000'000);
  EXPECT_FALSE(limiter.take(t, "a"));
  EXPECT_FALSE(limiter.take(t, "a"));
  EXPECT_FALSE(limiter.take(t, "a"));
  auto wait = limiter.take(t, "a");
  ASSERT_TRUE(wait);
  EXPECT_EQ(*wait, milliseconds(500));
  EXPECT_FALSE(limiter.take(t, "b"));  // another client has its own bucket
  EXPECT_TRUE(limiter.take(t + milliseconds(499), "a"));
  EXPECT_FALSE(limiter.take(t + milliseconds(500), "a"));
  // Refills up to the burst, not beyond.
  Instant later = t + seconds(100);
  for (int i = 0; i < 3; ++i)
    EXPECT_FALSE(limiter.take(later, "a")) << i;
  EXPECT_TRUE(limiter.take(later, "a"));
}

TEST(RateLimiter, ClientTableIsBounded) {
  RateLimiter limiter(1, 2, 3);
  Instant t = Instant::from_us(0);
  for (const char* c : {"a", "b", "c"})
    EXPECT_FALSE(limiter.take(t, c));
  // Full, and no bucket has refilled: a new client waits instead of growing the table.
  EXPECT_TRUE(limiter.take(t, "d"));
  EXPECT_EQ(limiter.clients(), 3u);
  // Once they have refilled, they are forgotten and the newcomer gets in.
  EXPECT_FALSE(limiter.take(t + seconds(5), "d"));
  EXPECT_LE(limiter.clients(), 3u);
}

TEST(StaticFiles, PathsStayInsideTheRoot) {
  EXPECT_EQ(static_relative_path("/"), "index.html");
  EXPECT_EQ(static_relative_path("/web/"), "index.html");
  EXPECT_EQ(static_relative_path("/web/js/app.js"), "js/app.js");
  EXPECT_EQ(static_relative_path("/web/a%20b.css"), "a b.css");
  for (const char* bad :
       {"/web/../x", "/web/a/../../x", "/web/%2e%2e/x", "/web/.hidden", "/web/a//b", "/web/a\\b",
        "/web/a%00b", "/web/%zz", "/web/%2", "/etc/passwd", "/webx", "/web/a/./b"}) {
    EXPECT_FALSE(static_relative_path(bad)) << bad;
  }
  EXPECT_TRUE(is_static_path("/"));
  EXPECT_TRUE(is_static_path("/web/x.js"));
  EXPECT_FALSE(is_static_path("/whep/x"));
}

TEST(StaticFiles, ContentTypes) {
  EXPECT_EQ(content_type_for("index.html"), "text/html; charset=utf-8");
  EXPECT_EQ(content_type_for("a.js"), "text/javascript; charset=utf-8");
  EXPECT_EQ(content_type_for("a.css"), "text/css; charset=utf-8");
  EXPECT_EQ(content_type_for("a.svg"), "image/svg+xml");
  EXPECT_EQ(content_type_for("a.png"), "image/png");
  EXPECT_EQ(content_type_for("a.json"), "application/json");
  EXPECT_EQ(content_type_for("a.bin"), "application/octet-stream");
  EXPECT_EQ(content_type_for("noext"), "application/octet-stream");
}

class StaticFilesOnDisk : public ::testing::Test {
 protected:
  void SetUp() override {
    base_ = std::filesystem::temp_directory_path() /
            ("cellrtc-static-" + std::to_string(::getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(base_);
    std::filesystem::create_directories(base_ / "root" / "js");
    write(base_ / "root" / "index.html", "<h1>hi</h1>");
    write(base_ / "root" / "js" / "app.js", "let x = 1;");
    write(base_ / "secret.txt", "outside");
    std::filesystem::create_symlink(base_ / "secret.txt", base_ / "root" / "link.txt");
  }
  void TearDown() override { std::filesystem::remove_all(base_); }
  static void write(const std::filesystem::path& p, const std::string& text) {
    std::ofstream(p) << text;
  }
  std::string root() const { return (base_ / "root").string(); }
  std::filesystem::path base_;
};

TEST_F(StaticFilesOnDisk, ServesFilesAndNothingElse) {
  auto index = serve_static_file(root(), "GET", "/");
  EXPECT_EQ(index.status, 200);
  EXPECT_EQ(index.body, "<h1>hi</h1>");
  EXPECT_EQ(*index.header("Content-Type"), "text/html; charset=utf-8");
  auto js = serve_static_file(root(), "HEAD", "/web/js/app.js");
  EXPECT_EQ(js.status, 200);
  EXPECT_EQ(*js.header("Content-Type"), "text/javascript; charset=utf-8");

  EXPECT_EQ(serve_static_file(root(), "GET", "/web/missing.js").status, 404);
  EXPECT_EQ(serve_static_file(root(), "GET", "/web/js").status, 404);  // a directory
  EXPECT_EQ(serve_static_file(root(), "GET", "/web/../secret.txt").status, 404);
  EXPECT_EQ(serve_static_file(root(), "GET", "/web/link.txt").status, 404);  // leads out
  EXPECT_EQ(serve_static_file(root(), "POST", "/").status, 405);
  EXPECT_EQ(serve_static_file(root(), "GET", "/web/js/app.js", 3).status, 500);  // too large
  EXPECT_EQ(serve_static_file(root() + "/nope", "GET", "/").status, 404);
}

TEST(Log, PlainAndJsonLines) {
  EXPECT_EQ(Logger::format(LogLevel::info, false, "", "http request",
                           {{"method", "GET"}, {"path", "/a b"}, {"status", "200"}}),
            "info http request method=GET path=\"/a b\" status=200");
  EXPECT_EQ(Logger::format(LogLevel::warn, true, "T", "x \"y\"", {{"k", "v\n"}}),
            R"({"ts":"T","level":"warn","msg":"x \"y\"","k":"v\u000a"})");
  EXPECT_EQ(parse_log_level("debug"), LogLevel::debug);
  EXPECT_FALSE(parse_log_level("loud"));
  Logger quiet(LogLevel::warn, false);
  EXPECT_TRUE(quiet.enabled(LogLevel::error));
  EXPECT_FALSE(quiet.enabled(LogLevel::info));
}

TEST(Log, WritesOnlyEnabledLevels) {
  std::FILE* file = std::tmpfile();
  ASSERT_NE(file, nullptr);
  Logger log(LogLevel::info, true, file);
  log.debug("hidden");
  log.info("shown", {{"k", "v"}});
  std::rewind(file);
  char buffer[512] = {};
  size_t n = std::fread(buffer, 1, sizeof buffer - 1, file);
  std::fclose(file);
  std::string text(buffer, n);
  EXPECT_THAT(text, HasSubstr("\"msg\":\"shown\",\"k\":\"v\"}\n"));
  EXPECT_EQ(text.find("hidden"), std::string::npos);
}

TEST(HttpMetrics, PrometheusText) {
  HttpMetrics m;
  m.count_response(201);
  m.count_response(201);
  m.count_response(404);
  m.connections_active = 3;
  std::string out;
  m.write(out);
  EXPECT_THAT(out, HasSubstr("# TYPE cellrtc_http_requests_total counter\n"));
  EXPECT_THAT(out, HasSubstr("cellrtc_http_requests_total{status=\"201\"} 2\n"));
  EXPECT_THAT(out, HasSubstr("cellrtc_http_requests_total{status=\"404\"} 1\n"));
  EXPECT_THAT(out, HasSubstr("# TYPE cellrtc_http_connections_active gauge\n"
                             "cellrtc_http_connections_active 3\n"));
}

TEST(ForwardedClient, BelievesOnlyTrustedProxies) {
  std::vector<std::string> trusted = {"127.0.0.1", "10.0.0.2"};
  std::string xff = "6.6.6.6, 203.0.113.7";
  EXPECT_EQ(forwarded_client("127.0.0.1", &xff, trusted), "203.0.113.7");
  // Past a chain of trusted proxies to the first that is not one; what the client wrote to the
  // left of it is ignored.
  std::string chain = "6.6.6.6, 203.0.113.7, 10.0.0.2";
  EXPECT_EQ(forwarded_client("127.0.0.1", &chain, trusted), "203.0.113.7");
  // From an untrusted peer the header means nothing.
  EXPECT_EQ(forwarded_client("198.51.100.1", &xff, trusted), "198.51.100.1");
  EXPECT_EQ(forwarded_client("127.0.0.1", nullptr, trusted), "127.0.0.1");
  std::string junk = "not-an-ip";
  EXPECT_EQ(forwarded_client("127.0.0.1", &junk, trusted), "127.0.0.1");
  std::string v6 = "2001:db8::1";
  EXPECT_EQ(forwarded_client("127.0.0.1", &v6, trusted), "2001:db8::1");
  EXPECT_EQ(forwarded_client("127.0.0.1", &xff, {}), "127.0.0.1");
}

}  // namespace
}  // namespace cellrtc::server
