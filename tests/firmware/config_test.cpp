// The firmware's configuration checks, camera pin sets and frame-size arithmetic.
#include <gtest/gtest.h>

#include <set>

#include "core/common/random.h"
#include "core/dtls/certificate.h"
#include "firmware/app/camera_pins.h"
#include "firmware/app/firmware_config.h"
#include "firmware/app/frame_size.h"
#include "firmware/app/memory_profile.h"
#include "tests/firmware/app_bench.h"

namespace cellrtc::firmware {
namespace {

std::string error_of(const FirmwareConfig& c) {
  auto r = validate(c);
  return r ? "" : describe(r.error());
}

TEST(FirmwareConfigTest, AcceptsTheBenchConfiguration) {
  EXPECT_EQ(error_of(testing::bench_config()), "");
}

TEST(FirmwareConfigTest, NamesTheFieldThatIsWrong) {
  auto with = [](auto change) {
    FirmwareConfig c = testing::bench_config();
    change(c);
    return error_of(c);
  };
  EXPECT_EQ(with([](auto& c) { c.server_url = ""; }).rfind("server_url: empty", 0), 0u);
  EXPECT_EQ(with([](auto& c) { c.server_url = "ftp://x"; }).rfind("server_url: must start", 0), 0u);
  EXPECT_EQ(with([](auto& c) { c.server_url = "https://host:99999/"; }),
            "server_url: port must be 1..65535");
  EXPECT_EQ(with([](auto& c) { c.server_url = "https://bad_host/whip"; }),
            "server_url: host is not a valid name or address");
  EXPECT_EQ(with([](auto& c) {
              c.server_url = "https://a b/whip";
            }).rfind("server_url: contains a space", 0),
            0u);
  EXPECT_EQ(with([](auto& c) { c.device_token = "to ken"; }).rfind("device_token:", 0), 0u);
  EXPECT_EQ(with([](auto& c) { c.apn = "inter\"net"; }).rfind("apn:", 0), 0u);
  EXPECT_EQ(with([](auto& c) { c.apn = std::string(101, 'a'); }).rfind("apn:", 0), 0u);
  EXPECT_EQ(with([](auto& c) { c.apn_password = "secret"; }),
            "apn_user: empty while apn_password is set");
  EXPECT_EQ(with([](auto& c) { c.apn_user = std::string(51, 'u'); }).rfind("apn_user:", 0), 0u);
  EXPECT_EQ(with([](auto& c) { c.sim_pin = "12a4"; }), "sim_pin: a PIN is 4 to 8 digits");
  EXPECT_EQ(with([](auto& c) { c.sim_pin = "123"; }), "sim_pin: a PIN is 4 to 8 digits");
  EXPECT_EQ(with([](auto& c) { c.jpeg_quality = 0; }), "jpeg_quality: must be 1..100");
  EXPECT_EQ(with([](auto& c) { c.frame_size = FrameSize::uxga; }).rfind("frame_size:", 0), 0u);
  EXPECT_EQ(with([](auto& c) { c.frame_size = FrameSize::hd; }), "");
  EXPECT_EQ(with([](auto& c) {
              c.modem_link = ModemLinkKind::uart;
              c.uart = {.tx_pin = 1, .rx_pin = 2, .baud = 100000};
            }).rfind("uart_baud:", 0),
            0u);
  EXPECT_EQ(with([](auto& c) {
              c.modem_link = ModemLinkKind::uart;
              c.uart = {.tx_pin = 23, .rx_pin = 2, .baud = 921600};
            }),
            "uart_tx_pin: not an ESP32-S3 GPIO");
  EXPECT_EQ(with([](auto& c) {
              c.modem_link = ModemLinkKind::uart;
              c.uart = {.tx_pin = 1, .rx_pin = 44, .baud = 921600};
            }),
            "uart_rx_pin: used by the console (UART0)");
  EXPECT_EQ(with([](auto& c) { c.modem_power_key_pin = 13; }),
            "modem_power_key_pin: used by the camera");  // the XIAO's PCLK
  EXPECT_EQ(with([](auto& c) { c.camera_board = CameraBoard::m5camera; }).rfind("modem_link:", 0),
            0u);
  EXPECT_EQ(with([](auto& c) { c.modem_reset_pin = 22; }).rfind("modem_reset_pin:", 0), 0u);
  EXPECT_EQ(with([](auto& c) {
              c.wifi_ssid = "bench";
              c.wifi_password = "short";
            }).rfind("wifi_password:", 0),
            0u);
  // A UART link at a rate the modem offers is fine; so is Wi-Fi without an APN.
  EXPECT_EQ(with([](auto& c) {
              c.modem_link = ModemLinkKind::uart;
              c.uart = {.tx_pin = 1, .rx_pin = 2, .baud = 921600};
            }),
            "");
  EXPECT_EQ(with([](auto& c) {
              c.apn = "bad\"apn";
              c.wifi_ssid = "bench";
            }),
            "");
}

TEST(FirmwareConfigTest, ThePrivateCaMustBePemCertificatesThatParse) {
  SeededRandom rng(3);
  auto a = dtls::Certificate::generate(rng, "cellrtc-ca-a");
  auto b = dtls::Certificate::generate(rng, "cellrtc-ca-b");
  ASSERT_TRUE(a && b);
  const std::string two = a->cert_pem() + b->cert_pem();
  auto count = count_ca_certificates(two);
  ASSERT_TRUE(count) << describe(count.error());
  EXPECT_EQ(*count, 2u);

  auto with_ca = [](std::string pem) {
    FirmwareConfig c = testing::bench_config();
    c.ca_pem = std::move(pem);
    return error_of(c);
  };
  EXPECT_EQ(with_ca(""), "");  // the certificate bundle
  EXPECT_EQ(with_ca(a->cert_pem()), "");
  EXPECT_EQ(with_ca("not a pem"), "ca_pem: no -----BEGIN CERTIFICATE----- block: not PEM");
  EXPECT_EQ(with_ca(a->cert_pem() + a->key_pem()),
            "ca_pem: holds a PEM block that is not a certificate (a key?)");
  std::string damaged = a->cert_pem();
  damaged[damaged.size() / 2] = '*';
  EXPECT_EQ(with_ca(damaged + b->cert_pem()).rfind("ca_pem: a certificate in it does not parse", 0),
            0u);
  std::string cut = a->cert_pem();
  cut.resize(cut.find("-----END"));
  EXPECT_EQ(with_ca(cut), "ca_pem: a certificate block has no -----END CERTIFICATE----- line");
  std::string many;
  while (many.size() <= kMaxCaPemBytes)
    many += a->cert_pem();
  EXPECT_EQ(with_ca(many), "ca_pem: longer than 16 KB");
}

TEST(FirmwareConfigTest, ServerUrlGetsTheWhipPathAndPort) {
  auto ep = parse_server_url("https://relay.example.org");
  ASSERT_TRUE(ep);
  EXPECT_TRUE(ep->tls);
  EXPECT_EQ(ep->host, "relay.example.org");
  EXPECT_EQ(ep->port, 443);
  EXPECT_EQ(ep->path, "/whip");
  ep = parse_server_url("http://[::1]:8080/whip?x=1");
  ASSERT_TRUE(ep);
  EXPECT_FALSE(ep->tls);
  EXPECT_EQ(ep->host, "[::1]");
  EXPECT_EQ(ep->port, 8080);
  EXPECT_EQ(ep->path, "/whip?x=1");
}

TEST(FirmwareConfigTest, SupervisorGetsTheApnPinAndAuth) {
  FirmwareConfig c = testing::bench_config();
  c.apn_user = "web";
  c.apn_password = "web";
  c.sim_pin = "1234";
  c.use_cmux = true;
  c.modem_power_key_pin = 2;
  auto s = supervisor_config(c);
  EXPECT_EQ(s.apn, "internet");
  EXPECT_EQ(s.auth, modem::a76xx::Auth::chap);
  EXPECT_EQ(s.pin, "1234");
  EXPECT_TRUE(s.use_cmux);
  EXPECT_TRUE(s.power_on_at_start);
}

TEST(CameraPinsTest, XiaoSenseMatchesSeeedsPinTable) {
  const CameraPins& p = camera_pins(CameraBoard::xiao_esp32s3_sense);
  EXPECT_EQ(p.xclk, 10);
  EXPECT_EQ(p.sccb_sda, 40);
  EXPECT_EQ(p.sccb_scl, 39);
  EXPECT_EQ(p.data, (std::array<int, 8>{15, 17, 18, 16, 14, 12, 11, 48}));
  EXPECT_EQ(p.vsync, 38);
  EXPECT_EQ(p.href, 47);
  EXPECT_EQ(p.pclk, 13);
  EXPECT_EQ(p.pwdn, -1);
  EXPECT_EQ(p.reset, -1);
}

TEST(CameraPinsTest, EveryBoardUsesEachPinOnce) {
  for (const char* name : {"xiao-esp32s3-sense", "esp32s3-eye", "m5camera"}) {
    auto board = parse_camera_board(name);
    ASSERT_TRUE(board) << name;
    EXPECT_STREQ(to_string(*board), name);
    const CameraPins& p = camera_pins(*board);
    std::set<int> used;
    size_t wired = 0;
    for (int pin : {p.pwdn, p.reset, p.xclk, p.sccb_sda, p.sccb_scl, p.vsync, p.href, p.pclk})
      if (pin >= 0) used.insert(pin), ++wired;
    for (int pin : p.data)
      used.insert(pin), ++wired;
    EXPECT_EQ(used.size(), wired) << name;
  }
  EXPECT_FALSE(parse_camera_board("esp-eye"));
  EXPECT_FALSE(board_is_esp32s3(CameraBoard::m5camera));
}

TEST(FrameSizeTest, ParsesAndPicksTheLargestThatFits) {
  EXPECT_EQ(parse_frame_size("VGA"), FrameSize::vga);
  EXPECT_FALSE(parse_frame_size("vga"));
  EXPECT_EQ(largest_frame_size_within(0, 0, FrameSize::vga), FrameSize::vga);
  EXPECT_EQ(largest_frame_size_within(400, 300, FrameSize::vga), FrameSize::cif);
  EXPECT_EQ(largest_frame_size_within(320, 0, FrameSize::uxga), FrameSize::qvga);
  EXPECT_EQ(largest_frame_size_within(1280, 1024, FrameSize::uxga), FrameSize::sxga);
  EXPECT_EQ(largest_frame_size_within(50, 50, FrameSize::vga), FrameSize::qqvga);
  EXPECT_EQ(camera_jpeg_buffer_bytes(FrameSize::vga), 61440u);  // as the driver's log shows
}

TEST(FrameSizeTest, QualityMapsOntoTheDriversScaleMonotonically) {
  EXPECT_EQ(camera_jpeg_quality(100), kBestCameraQuality);
  EXPECT_EQ(camera_jpeg_quality(1), kWorstCameraQuality);
  EXPECT_EQ(camera_jpeg_quality(500), kBestCameraQuality);
  EXPECT_EQ(camera_jpeg_quality(-3), kWorstCameraQuality);
  for (int q = 2; q <= 100; ++q)
    EXPECT_LE(camera_jpeg_quality(q), camera_jpeg_quality(q - 1)) << q;
}

TEST(MemoryProfileTest, BuffersFollowTheLargestFrame) {
  const MemoryProfile vga = memory_profile(FrameSize::vga);
  EXPECT_EQ(vga.largest_frame_message, 24u + 61440u);
  // A whole frame fits the send buffer twice over, and the limits are far below the core's
  // defaults (1 MiB send buffer, 256 KiB receive window).
  EXPECT_GE(vga.sctp_send_buffer, 2 * vga.largest_frame_message);
  EXPECT_LT(vga.sctp_send_buffer, 256u * 1024);
  peer::PeerConfig config;
  apply_memory_profile(vga, config);
  EXPECT_EQ(config.sctp.send_buffer_limit, vga.sctp_send_buffer);
  EXPECT_EQ(config.sctp.receive_window, 32u * 1024);
  EXPECT_EQ(config.sctp.max_receive_message_size, 16u * 1024);
  EXPECT_TRUE(frame_size_fits_server(FrameSize::hd));
  EXPECT_FALSE(frame_size_fits_server(FrameSize::sxga));  // 262144 + header
}

TEST(FirmwareConfigTest, TransportTcpWithTheServerGivenByNameWarnsOfDns) {
  FirmwareConfig c;
  c.server_url = "https://relay.example.net/whip";
  EXPECT_EQ(c.transport, streamer::IceTransport::automatic);
  EXPECT_FALSE(transport_warning(c));
  c.transport = streamer::IceTransport::tcp;
  auto warning = transport_warning(c);
  ASSERT_TRUE(warning);
  EXPECT_NE(warning->find("relay.example.net"), std::string::npos) << *warning;
  c.server_url = "https://203.0.113.10:8443/whip";
  EXPECT_FALSE(transport_warning(c));
  c.server_url = "https://[2001:db8::10]/whip";
  EXPECT_FALSE(transport_warning(c));
  EXPECT_EQ(streamer::parse_ice_transport("tcp"), streamer::IceTransport::tcp);
  EXPECT_FALSE(streamer::parse_ice_transport("TCP"));
}

}  // namespace
}  // namespace cellrtc::firmware

namespace cellrtc::firmware {
namespace {

// turn_urls, the firmware's counterpart of the agent's --turn-url: each entry parsed by
// core/turn's URI parser, an error naming the entry; the sessions get them in order.
TEST(FirmwareConfigTest, TurnUrlsAreCheckedEntryByEntry) {
  auto with = [](std::string urls, auto change) {
    FirmwareConfig c = testing::bench_config();
    c.turn_urls = std::move(urls);
    change(c);
    return error_of(c);
  };
  auto plain = [](FirmwareConfig&) {};
  EXPECT_EQ(with("", plain), "");
  EXPECT_EQ(with(" ", plain), "");
  EXPECT_EQ(with("turn:198.51.100.7, turn:turn.example.net:443?transport=tcp", plain), "");
  EXPECT_EQ(with("turn:198.51.100.7,", plain), "turn_urls: entry 2 is empty");
  EXPECT_EQ(with("turn:198.51.100.7,,turn:x", plain), "turn_urls: entry 2 is empty");
  EXPECT_EQ(with("turn:198.51.100.7, stun:198.51.100.7", plain),
            "turn_urls: entry 2 (stun:198.51.100.7): not a turn: or turns: URL");
  EXPECT_EQ(with("turn:a:1,http://x", plain).rfind("turn_urls: entry 2 (http://x): ", 0), 0u);
  EXPECT_EQ(with("turn:bad_host", plain).rfind("turn_urls: entry 1 (turn:bad_host): ", 0), 0u);
  EXPECT_EQ(with("turn:a:1,turn:a:2,turn:a:3,turn:a:4,turn:a:5,turn:a:6,turn:a:7,turn:a:8,turn:a:9",
                 plain),
            "turn_urls: more than 8 entries");
  EXPECT_EQ(with(std::string(1025, 'a'), plain), "turn_urls: longer than 1024 bytes");
  // turns: cannot be verified without a CA; TURN over UDP cannot be used under transport tcp.
  EXPECT_EQ(with("turns:turn.example.net", plain)
                .rfind("turn_urls: entry 1 (turns:turn.example.net): turns: needs ca_pem", 0),
            0u);
  EXPECT_EQ(
      with("turn:198.51.100.7:3478?transport=tcp,turn:198.51.100.7",
           [](auto& c) { c.transport = streamer::IceTransport::tcp; })
          .rfind("turn_urls: entry 2 (turn:198.51.100.7): TURN over UDP with transport tcp", 0),
      0u);
}

TEST(FirmwareConfigTest, SessionsGetTheTurnUrlsAndTheCa) {
  FirmwareConfig c = testing::bench_config();
  c.turn_urls = " turn:198.51.100.7:3478?transport=tcp ,turn:turn.example.net";
  c.relay_only = true;
  ASSERT_EQ(error_of(c), "");
  streamer::RelayPlanConfig relay = relay_plan_config(c);
  EXPECT_EQ(relay.turn_urls, (std::vector<std::string>{"turn:198.51.100.7:3478?transport=tcp",
                                                       "turn:turn.example.net"}));
  EXPECT_EQ(relay.ca_pem, "");
  EXPECT_EQ(relay.ca_setting, "CELLRTC_CA_PEM_FILE");
}

}  // namespace
}  // namespace cellrtc::firmware
