// Direct mode through TURN in the cellular lab (docs/lab.md, docs/protocol.md "Direct mode"):
// cellrtc-server only signals; cellrtc-device answers each viewer with a peer connection of its
// own, whose relayed candidate on the lab's coturn (P-turn) it allocates with the time-limited
// credentials of its WHIP answer before it answers.
//  - The device behind the symmetric carrier NAT that also drops its UDP (it reaches coturn
//    over TURN-TLS only), headless Chromium behind the home NAT (P-vnat) made symmetric too: no
//    host or reflexive pair can work, the frames flow through coturn, and the page shows the
//    path as direct through the device's TURN relay.
//  - Chromium with iceTransportPolicy "relay" as a direct viewer: its own relayed candidate
//    carries the stream (TURN-UDP on the page). A dead TURN server listed first holds the
//    device's answer no longer than its gathering limit (2.5 s).

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "browser/browser_test_util.h"
#include "browser/cellrtc_processes.h"
#include "browser/viewer_driver.h"
#include "lab/lab_call.h"

namespace cellrtc::lab {
namespace {

using namespace std::chrono_literals;
using browser::DeviceProcess;
using browser::ServerProcess;
using browser::ViewerDriver;

constexpr const char* kPrefix = "cldirect";
constexpr const char* kProfile = "lte-cat1";
constexpr const char* kTurnUrl = "turn:203.0.113.20:3478?transport=udp";
constexpr const char* kTurnsUrl = "turns:turn.cellrtc.lab:5349?transport=tcp";
constexpr const char* kTurnName = "turn.cellrtc.lab";  // the lab certificate's name
constexpr const char* kTurnAddress = "203.0.113.20";
constexpr const char* kDeadTurnUrl = "turn:203.0.113.30:3478?transport=udp";  // nobody there
constexpr const char* kDevice = "directcam";
constexpr const char* kViewerToken = "lab-direct-viewer-token";

class LabDirectTest : public LabCallTest {
 protected:
  // Lab up, server in direct mode with the lab's coturn, device streaming (its relay session
  // carries the control channel the direct offers come over), Chromium opening `page_query`.
  // Both get TURN credentials for `turn_urls` from the server.
  void start(const std::vector<std::string>& lab_args, const std::vector<std::string>& turn_urls,
             const std::string& page_query, bool symmetric_viewer_nat = false) {
    bring_up(kPrefix, kProfile, lab_args);
    if (IsSkipped() || HasFatalFailure()) return;
    if (symmetric_viewer_nat) make_viewer_nat_symmetric();
    if (HasFatalFailure()) return;
    const std::string secret = read_text(state_file("turn-secret"));
    ASSERT_FALSE(secret.empty()) << "no turn-secret in the lab's state directory";
    std::vector<std::string> server_args = {"--mode=direct", "--turn-secret=" + secret};
    for (const auto& url : turn_urls)
      server_args.push_back("--turn-url=" + url);
    std::string error;
    server_ = ServerProcess::start(
        server_options(kDevice, "lab-direct-device-token", kViewerToken, server_args), &error);
    ASSERT_TRUE(server_) << error;
    device_ = DeviceProcess::start(
        *server_,
        {.source = "testpattern:320x240",
         .fps = 10,
         .bind = "",
         .command_prefix = lab_->exec_prefix("dev"),
         .extra_args = {std::string("--resolve=") + kTurnName + "=" + kTurnAddress,
                        "--ca-file=" + state_file("turn-cert.pem")}},
        &error);
    ASSERT_TRUE(device_) << error;
    ASSERT_TRUE(server_->wait_device_state(kDevice, "live", 30s))
        << "server: " << server_->log_tail() << "\ndevice: " << device_->log_tail();
    driver_ = ViewerDriver::start(&error, 60s, lab_->exec_prefix("viewer"));
    ASSERT_TRUE(driver_) << error;
    const std::string page =
        server_->url("/") + "?device=" + kDevice + "&token=" + kViewerToken + page_query;
    ASSERT_TRUE(driver_->request({{"type", "open"}, {"url", page}, {"viewers", 1}}))
        << driver_->last_error();
  }

  // Ten frames drawn in order on the direct path with `transport` on the page.
  nlohmann::json wait_direct_frames(const std::string& transport) {
    auto shown = browser::wait_stats(*driver_, 0, 30s, [&](const nlohmann::json& s) {
      return s.value("framesDrawn", 0) >= 10 && s.value("path", "") == "direct" &&
             s["transport"].is_string() && s["transport"].get<std::string>() == transport;
    });
    const std::string context =
        "\nserver: " + server_->log_tail() + "\ndevice: " + device_->log_tail(16384);
    EXPECT_TRUE(shown) << driver_->last_error() << context;
    if (!shown) return {};
    const auto& s = (*shown)["stats"];
    EXPECT_GE(s.value("framesDrawn", 0), 10) << shown->dump() << context;
    EXPECT_EQ(s.value("path", ""), "direct") << shown->dump();
    EXPECT_EQ(s.value("transport", ""), transport) << shown->dump() << context;
    EXPECT_EQ(s.value("badFrames", -1), 0) << shown->dump();
    EXPECT_EQ(browser::strictly_increasing(browser::int_list(s["seqs"])), "") << shown->dump();
    // The server only signaled: a direct viewer, no relay session for it.
    auto devices = server_->devices();
    EXPECT_TRUE(devices && !devices->empty());
    if (devices && !devices->empty()) {
      EXPECT_EQ((*devices)[0].value("direct_viewers", -1), 1) << devices->dump();
      EXPECT_EQ((*devices)[0].value("viewers", -1), 0) << devices->dump();
    }
    return *shown;
  }

  // The home NAT maps every destination to a new random port as well (lab.sh makes only the
  // carrier NAT symmetric): the rule of lab.sh's viewer_nat_rules with "fully-random".
  void make_viewer_nat_symmetric() {
    const std::vector<std::vector<std::string>> commands = {
        {"nft", "flush", "chain", "ip", "cellrtc_lab", "postrouting"},
        {"nft", "add", "rule", "ip", "cellrtc_lab", "postrouting", "oifname", "wan0", "counter",
         "masquerade", "fully-random"}};
    for (const auto& command : commands)
      ASSERT_TRUE(lab_->exec("vnat", command)) << command[1] << " failed in the viewer's NAT";
    auto rules = lab_->exec("vnat", {"nft", "list", "chain", "ip", "cellrtc_lab", "postrouting"});
    ASSERT_TRUE(rules);
    ASSERT_NE(rules->find("fully-random"), std::string::npos) << *rules;
  }
};

TEST_F(LabDirectTest, BehindSymmetricNatsTheDirectStreamFlowsThroughTheDevicesTurnRelay) {
  const auto started = std::chrono::steady_clock::now();
  // TURN over UDP for the viewer (Chromium neither resolves the lab's name nor trusts its
  // certificate), TURN-TLS for the device, whose UDP is dropped.
  start({"--symmetric", "--block-udp"}, {kTurnsUrl, kTurnUrl}, "", true);
  if (IsSkipped() || HasFatalFailure()) return;
  // The device's only candidate the viewer can reach is its relayed one on coturn: the
  // selected pair's remote end (what the page sees of the device) is that relay.
  auto shown = wait_direct_frames("TURN (device)");
  if (HasFailure()) return;
  EXPECT_EQ(shown["stats"].value("remoteCandidateType", ""), "relay") << shown.dump();
  const std::string log = device_->log_tail(65536);
  const std::string answered = line_with(log, "answered with");
  EXPECT_NE(answered.find(", 1 relayed"), std::string::npos) << log;
  // Its one relay is the TLS one (each viewer allocates again: the session's is logged).
  EXPECT_NE(line_with(log, "relay: allocated").find(std::string(" on ") + kTurnsUrl),
            std::string::npos)
      << log;
  std::printf("[ lab direct ] %s\n", answered.c_str());
  std::printf("[ lab direct ] 10 frames drawn %.1f s after the lab was up\n",
              std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
}

TEST_F(LabDirectTest, ChromiumWithTheRelayPolicyWatchesADirectDevice) {
  start({}, {kDeadTurnUrl, kTurnUrl}, "&ice-transport-policy=relay");
  if (IsSkipped() || HasFatalFailure()) return;
  auto shown = wait_direct_frames("TURN-UDP");
  if (HasFailure()) return;
  // The answer went at the gathering limit with the working server's relay (the dead one
  // would be given up only after 10 s, past the server's 5 s wait for the answer).
  const std::string log = device_->log_tail(65536);
  const std::string answered = line_with(log, "answered with");
  EXPECT_NE(answered.find(", 1 relayed (a TURN server had not answered yet)"), std::string::npos)
      << log;
  std::printf("[ lab direct ] %s\n", answered.c_str());
  EXPECT_EQ(shown["stats"].value("iceTransportPolicy", ""), "relay") << shown.dump();
  EXPECT_EQ(shown["stats"].value("candidateType", ""), "relay") << shown.dump();
}

}  // namespace
}  // namespace cellrtc::lab
