#include "server/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <map>
#include "support/build_paths.h"

namespace cellrtc::server {
namespace {

using ::testing::HasSubstr;

struct Inputs {
  std::map<std::string, std::string> environment;
  std::map<std::string, std::string> files;

  Result<CommandLine, ConfigError> parse(const std::vector<std::string>& args) const {
    return parse_command_line(
        args,
        [this](std::string_view name) -> std::optional<std::string> {
          auto it = environment.find(std::string(name));
          if (it == environment.end()) return std::nullopt;
          return it->second;
        },
        [this](const std::string& path) -> std::optional<std::string> {
          auto it = files.find(path);
          if (it == files.end()) return std::nullopt;
          return it->second;
        });
  }
};

std::string error_of(const Result<CommandLine, ConfigError>& r) {
  return r ? std::string("(no error)") : r.error().message;
}

constexpr const char* kToken = "abcdefghijklmnop0123";

TEST(Config, DefaultsNeedNothing) {
  auto r = Inputs{}.parse({});
  ASSERT_TRUE(r) << error_of(r);
  EXPECT_EQ(r->config.http.listen, "127.0.0.1:8080");
  EXPECT_TRUE(r->config.devices.empty());
  EXPECT_FALSE(r->help);
}

TEST(Config, FileThenEnvironmentThenFlags) {
  Inputs in;
  in.files["c.toml"] = R"(
log_level = "debug"
[http]
listen = "127.0.0.1:9000"
requests_per_second = 2
cors_origins = ["https://a.example", "https://b.example"]
[relay]
udp_port = 9001
reconnect_grace = 5
[[device]]
id = "cam1"
token = "cam1-token-0123456789"
)";
  in.environment["CELLRTC_HTTP_LISTEN"] = "127.0.0.1:9100";
  in.environment["CELLRTC_RELAY_UDP_PORT"] = "9101";
  in.environment["CELLRTC_HTTP_CORS_ORIGINS"] = "https://env.example";
  auto r = in.parse({"--config", "c.toml", "--listen=127.0.0.1:9200", "--log-json"});
  ASSERT_TRUE(r) << error_of(r);
  const auto& c = r->config;
  EXPECT_EQ(c.http.listen, "127.0.0.1:9200");  // flag over environment over file
  EXPECT_EQ(c.relay.udp_port, 9101);           // environment over file
  EXPECT_EQ(c.log_level, "debug");             // file
  EXPECT_EQ(c.http.requests_per_second, 2);
  EXPECT_EQ(c.relay.reconnect_grace, seconds(5));
  EXPECT_EQ(c.http.cors_origins, std::vector<std::string>{"https://env.example"});
  EXPECT_TRUE(c.log_json);
  ASSERT_EQ(c.devices.size(), 1u);
  EXPECT_EQ(c.devices[0].id, "cam1");
  EXPECT_EQ(r->config_file, "c.toml");
}

TEST(Config, RepeatedFlagsReplaceThenAppend) {
  Inputs in;
  in.environment["CELLRTC_DEVICES"] = std::string("env:") + kToken;
  auto r = in.parse({"--device", std::string("a:") + kToken, "--device",
                     "b:bbbbbbbbbbbbbbbbbbbb:vvvvvvvvvvvvvvvvvvvv", "--turn-url", "turn:t:3478",
                     "--turn-url=turns:t:5349", "--turn-secret", "s3cret"});
  ASSERT_TRUE(r) << error_of(r);
  ASSERT_EQ(r->config.devices.size(), 2u);
  EXPECT_EQ(r->config.devices[0].id, "a");
  EXPECT_EQ(r->config.devices[1].viewer_token, "vvvvvvvvvvvvvvvvvvvv");
  EXPECT_EQ(r->config.turn.urls, (std::vector<std::string>{"turn:t:3478", "turns:t:5349"}));
}

TEST(Config, EnvironmentConfigFileAndDevices) {
  Inputs in;
  in.files["/etc/c.toml"] = "[relay]\nmax_devices = 3\n";
  in.environment["CELLRTC_CONFIG"] = "/etc/c.toml";
  in.environment["CELLRTC_DEVICES"] = std::string("a:") + kToken + ", b:bbbbbbbbbbbbbbbbbbbb";
  auto r = in.parse({});
  ASSERT_TRUE(r) << error_of(r);
  EXPECT_EQ(r->config.relay.max_devices, 3u);
  ASSERT_EQ(r->config.devices.size(), 2u);
  EXPECT_EQ(r->config.devices[1].id, "b");
}

TEST(Config, FileErrorsNameKeyAndLine) {
  struct Case {
    const char* toml;
    const char* expected;
  };
  const Case cases[] = {
      {"[http]\nlsiten = \"127.0.0.1:1\"\n", "c.toml:2: unknown key 'http.lsiten'"},
      {"\n\nbogus = 1\n", "c.toml:3: unknown key 'bogus'"},
      {"[nope]\nx = 1\n", "c.toml:1: unknown key 'nope'"},
      {"[http]\n\nlisten = \"localhost\"\n", "c.toml:3: http.listen: 'localhost' is not IP:PORT"},
      {"[relay]\nudp_port = 70000\n", "c.toml:2: relay.udp_port: expected a port"},
      {"[relay]\nudp_port = \"x\"\n", "c.toml:2: relay.udp_port"},
      {"[relay]\nudp_addresses = [\"1.2.3\"]\n", "c.toml:2: relay.udp_addresses: '1.2.3'"},
      {"[http]\nrequests_per_second = 0\n", "c.toml:2: http.requests_per_second"},
      {"[http]\nmax_body_bytes = 10\n", "c.toml:2: http.max_body_bytes"},
      {"log_level = \"loud\"\n", "c.toml:1: log_level: 'loud'"},
      {"log_json = \"yes\"\n", "c.toml:1: log_json: expected true or false"},
      {"[turn]\nurls = [\"http://x\"]\n", "c.toml:2: turn.urls"},
      {"[[device]]\nid = \"bad id\"\ntoken = \"abcdefghijklmnop0123\"\n",
       "c.toml:1: device: device id 'bad id'"},
      {"[[device]]\nid = \"a\"\ntoken = \"short\"\n", "c.toml:1: device: device 'a': token"},
      {"[[device]]\nid = \"a\"\ncolour = \"red\"\n", "c.toml:3: unknown key 'device.colour'"},
      {"[[device]]\nid = \"a\"\ntoken = \"abcdefghijklmnop0123\"\n"
       "[[device]]\nid = \"a\"\ntoken = \"bbbbbbbbbbbbbbbbbbbb\"\n",
       "c.toml:4: device: device id 'a' appears twice"},
      {"[http]\nlisten = \n", "c.toml:2:"},  // toml++'s own syntax error, with its position
      {"[http]\ntls_key = \"k.pem\"\n", "http.tls_certificate and http.tls_key"},
  };
  for (const auto& c : cases) {
    Inputs in;
    in.files["c.toml"] = c.toml;
    auto r = in.parse({"--config", "c.toml"});
    ASSERT_FALSE(r) << c.toml;
    EXPECT_THAT(r.error().message, HasSubstr(c.expected)) << c.toml;
  }
}

TEST(Config, EnvironmentAndFlagErrorsNameTheirSource) {
  Inputs in;
  in.environment["CELLRTC_RELAY_MAX_VIEWERS"] = "many";
  EXPECT_THAT(error_of(in.parse({})),
              HasSubstr("environment CELLRTC_RELAY_MAX_VIEWERS (relay.max_viewers)"));

  Inputs none;
  EXPECT_THAT(error_of(none.parse({"--udp-port", "-1"})), HasSubstr("--udp-port (relay.udp_port)"));
  EXPECT_THAT(error_of(none.parse({"--lissten", "x"})), HasSubstr("unknown option '--lissten'"));
  EXPECT_THAT(error_of(none.parse({"--listen"})), HasSubstr("--listen needs a value"));
  EXPECT_THAT(error_of(none.parse({"stray"})), HasSubstr("unexpected argument 'stray'"));
  EXPECT_THAT(error_of(none.parse({"--device", "nocolon"})), HasSubstr("--device:"));
  EXPECT_THAT(error_of(none.parse({"--config", "missing.toml"})),
              HasSubstr("missing.toml: cannot read"));
  EXPECT_THAT(
      error_of(none.parse({"--viewers-need-token", "--device", std::string("a:") + kToken})),
      HasSubstr("no viewer_token"));
  EXPECT_THAT(error_of(none.parse({"--device", std::string("a:") + kToken, "--device",
                                   std::string("b:") + kToken})),
              HasSubstr("token used twice"));
}

TEST(Config, DeviceSpec) {
  auto d = parse_device_spec("cam-1_x:abcdefghijklmnop0123:viewer_token_long_enough==");
  ASSERT_TRUE(d) << d.error().message;
  EXPECT_EQ(d->id, "cam-1_x");
  EXPECT_EQ(d->token, "abcdefghijklmnop0123");
  EXPECT_EQ(d->viewer_token, "viewer_token_long_enough==");
  EXPECT_FALSE(parse_device_spec(std::string(65, 'a') + ":" + kToken));
  EXPECT_FALSE(parse_device_spec("a:abcdefghijklmnop 0123"));
  EXPECT_FALSE(parse_device_spec("a:abcdefghijklmnop0123=x"));
}

TEST(Config, HelpCoversEveryOption) {
  auto r = Inputs{}.parse({"--listen", "x", "--help"});
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->help);
  std::string help = config_help();
  // Every ServerConfig field, by its flag, TOML key and environment variable.
  const char* expected[][3] = {
      {"--listen", "http.listen", "CELLRTC_HTTP_LISTEN"},
      {"--tls-certificate", "http.tls_certificate", "CELLRTC_HTTP_TLS_CERTIFICATE"},
      {"--tls-key", "http.tls_key", "CELLRTC_HTTP_TLS_KEY"},
      {"--web-root", "http.web_root", "CELLRTC_HTTP_WEB_ROOT"},
      {"--cors-origin", "http.cors_origins", "CELLRTC_HTTP_CORS_ORIGINS"},
      {"--requests-per-second", "http.requests_per_second", "CELLRTC_HTTP_REQUESTS_PER_SECOND"},
      {"--request-burst", "http.request_burst", "CELLRTC_HTTP_REQUEST_BURST"},
      {"--max-body-bytes", "http.max_body_bytes", "CELLRTC_HTTP_MAX_BODY_BYTES"},
      {"--max-connections", "http.max_connections", "CELLRTC_HTTP_MAX_CONNECTIONS"},
      {"--trusted-proxy", "http.trusted_proxies", "CELLRTC_HTTP_TRUSTED_PROXIES"},
      {"--udp-port", "relay.udp_port", "CELLRTC_RELAY_UDP_PORT"},
      {"--udp-address", "relay.udp_addresses", "CELLRTC_RELAY_UDP_ADDRESSES"},
      {"--public-ip", "relay.public_ips", "CELLRTC_RELAY_PUBLIC_IPS"},
      {"--reconnect-grace", "relay.reconnect_grace", "CELLRTC_RELAY_RECONNECT_GRACE"},
      {"--max-devices", "relay.max_devices", "CELLRTC_RELAY_MAX_DEVICES"},
      {"--max-viewers", "relay.max_viewers", "CELLRTC_RELAY_MAX_VIEWERS"},
      {"--max-viewers-per-device", "relay.max_viewers_per_device",
       "CELLRTC_RELAY_MAX_VIEWERS_PER_DEVICE"},
      {"--max-sdp-bytes", "relay.max_sdp_bytes", "CELLRTC_RELAY_MAX_SDP_BYTES"},
      {"--viewer-control", "relay.viewer_control", "CELLRTC_RELAY_VIEWER_CONTROL"},
      {"--viewers-need-token", "relay.viewers_need_token", "CELLRTC_RELAY_VIEWERS_NEED_TOKEN"},
      {"--turn-secret", "turn.secret", "CELLRTC_TURN_SECRET"},
      {"--turn-url", "turn.urls", "CELLRTC_TURN_URLS"},
      {"--stun-url", "turn.stun_urls", "CELLRTC_TURN_STUN_URLS"},
      {"--turn-ttl", "turn.ttl", "CELLRTC_TURN_TTL"},
      {"--certificate-file", "certificate_file", "CELLRTC_CERTIFICATE_FILE"},
      {"--log-level", "log_level", "CELLRTC_LOG_LEVEL"},
      {"--log-json", "log_json", "CELLRTC_LOG_JSON"},
      {"--device", "[[device]]", "CELLRTC_DEVICES"},
      {"--config", "--help", "CELLRTC_CONFIG"},
  };
  for (const auto& names : expected) {
    for (const char* name : names)
      EXPECT_THAT(help, HasSubstr(name)) << name;
  }

  // And each flag in the help really sets its field: a value other than the default for all.
  Inputs in;
  auto set = in.parse({"--listen=[::1]:1",
                       "--tls-certificate=c.pem",
                       "--tls-key=k.pem",
                       "--web-root=/w",
                       "--cors-origin=https://o",
                       "--requests-per-second=7",
                       "--request-burst=8",
                       "--max-body-bytes=2048",
                       "--max-connections=5",
                       "--trusted-proxy=127.0.0.1",
                       "--udp-port=9",
                       "--udp-address=::1",
                       "--public-ip=192.0.2.1",
                       "--reconnect-grace=1.5",
                       "--max-devices=2",
                       "--max-viewers=3",
                       "--max-viewers-per-device=4",
                       "--max-sdp-bytes=1500",
                       "--viewer-control=false",
                       "--viewers-need-token",
                       "--turn-secret=x",
                       "--turn-url=turn:h",
                       "--stun-url=stun:h",
                       "--turn-ttl=120",
                       "--certificate-file=d.pem",
                       "--log-level=warn",
                       "--log-json=true",
                       "--device=a:abcdefghijklmnop0123:qrstuvwxyzabcdef0123"});
  ASSERT_TRUE(set) << error_of(set);
  const auto& c = set->config;
  EXPECT_EQ(c.http.listen, "[::1]:1");
  EXPECT_EQ(c.http.tls_certificate, "c.pem");
  EXPECT_EQ(c.http.tls_key, "k.pem");
  EXPECT_EQ(c.http.web_root, "/w");
  EXPECT_EQ(c.http.cors_origins, std::vector<std::string>{"https://o"});
  EXPECT_EQ(c.http.requests_per_second, 7);
  EXPECT_EQ(c.http.request_burst, 8);
  EXPECT_EQ(c.http.max_body_bytes, 2048u);
  EXPECT_EQ(c.http.max_connections, 5u);
  EXPECT_EQ(c.http.trusted_proxies, std::vector<std::string>{"127.0.0.1"});
  EXPECT_EQ(c.relay.udp_port, 9);
  EXPECT_EQ(c.relay.udp_addresses, std::vector<std::string>{"::1"});
  EXPECT_EQ(c.relay.public_ips, std::vector<std::string>{"192.0.2.1"});
  EXPECT_EQ(c.relay.reconnect_grace, milliseconds(1500));
  EXPECT_EQ(c.relay.max_devices, 2u);
  EXPECT_EQ(c.relay.max_viewers, 3u);
  EXPECT_EQ(c.relay.max_viewers_per_device, 4u);
  EXPECT_EQ(c.relay.max_sdp_bytes, 1500u);
  EXPECT_FALSE(c.relay.viewer_control);
  EXPECT_TRUE(c.relay.viewers_need_token);
  EXPECT_EQ(c.turn.secret, "x");
  EXPECT_EQ(c.turn.urls, std::vector<std::string>{"turn:h"});
  EXPECT_EQ(c.turn.stun_urls, std::vector<std::string>{"stun:h"});
  EXPECT_EQ(c.turn.ttl, seconds(120));
  EXPECT_EQ(c.certificate_file, "d.pem");
  EXPECT_EQ(c.log_level, "warn");
  EXPECT_TRUE(c.log_json);
  ASSERT_EQ(c.devices.size(), 1u);
}

TEST(Config, CommittedDeploymentExampleIsValid) {
  std::ifstream in(cellrtc::test_paths::source_dir() + "/scripts/deploy/cellrtc.toml");
  ASSERT_TRUE(in);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ServerConfig config;
  auto r = apply_toml(text, "cellrtc.toml", config);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(config.http.trusted_proxies, std::vector<std::string>{"127.0.0.1"});
  EXPECT_EQ(config.turn.urls.size(), 2u);
  ASSERT_EQ(config.devices.size(), 1u);
}

TEST(Config, HelpShowsNoSecretDefault) {
  std::string help = config_help();
  EXPECT_THAT(help, HasSubstr("default 127.0.0.1:8080"));
  EXPECT_THAT(help, HasSubstr("default 8443"));
}

TEST(Config, DirectModePerDeviceAndByDefault) {
  ServerConfig config;
  auto r = apply_toml(R"(
[relay]
mode = "direct-then-relay"
direct_viewers = 3
[[device]]
id = "a"
token = "device-token-aaaaaaaa"
[[device]]
id = "b"
token = "device-token-bbbbbbbb"
mode = "direct"
direct_viewers = 1
direct_timeout = 2.5
)",
                      "cellrtc.toml", config);
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_TRUE(validate_config(config));
  auto a = direct_policy(config, "a");
  EXPECT_EQ(a.mode, DeviceMode::direct_then_relay);
  EXPECT_EQ(a.direct_viewers, 3u);
  EXPECT_EQ(a.direct_timeout, seconds(5));
  auto b = direct_policy(config, "b");
  EXPECT_EQ(b.mode, DeviceMode::direct);
  EXPECT_EQ(b.direct_viewers, 1u);
  EXPECT_EQ(b.direct_timeout, milliseconds(2500));

  ServerConfig bad;
  auto e = apply_toml("[[device]]\nid = \"c\"\ntoken = \"device-token-cccccccc\"\nmode = \"p2p\"\n",
                      "cellrtc.toml", bad);
  ASSERT_FALSE(e);
  EXPECT_THAT(e.error().message, HasSubstr("device.mode"));
  bad.relay.mode = "p2p";
  EXPECT_FALSE(validate_config(bad));
}

}  // namespace
}  // namespace cellrtc::server
