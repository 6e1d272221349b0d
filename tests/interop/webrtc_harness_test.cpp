// Proves the WebRTC peers of the interop harness against each other, before any test puts our
// own PeerConnection across from them: Chromium, Firefox ESR and aiortc negotiate data
// channels through WebRtcPeer on loopback, carry messages of 1 B, 16 KiB and 256 KiB both
// ways and close a channel. A failure here points at the harness (or the machine: these tests
// fail, never skip, when scripts/setup.sh has not installed the browsers), not at our stack.
#include <gtest/gtest.h>

#include <unistd.h>

#include <chrono>
#include <sstream>

#include "interop/webrtc_peer.h"
#include "support/build_paths.h"

namespace cellrtc::interop {
namespace {

using namespace std::chrono_literals;

// Long enough for a browser to start on a loaded two-core machine.
constexpr auto kStep = 15s;

std::string describe(const WebRtcPeer& peer) {
  std::string out(to_string(peer.kind()));
  for (const auto& e : peer.errors())
    out += "\n  error: " + e;
  out += "\n--- log:\n" + peer.log_tail(2048);
  return out;
}

std::vector<std::string> lines_of(const std::string& sdp) {
  std::vector<std::string> lines;
  std::istringstream in(sdp);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    lines.push_back(line);
  }
  return lines;
}

// The address field of "candidate:..." (RFC 8839 section 5.1: the fifth).
std::string candidate_address(std::string_view candidate) {
  std::istringstream in{std::string(candidate)};
  std::string field;
  for (int i = 0; i < 5 && in >> field; ++i) {
  }
  return field;
}

bool on_loopback(std::string_view address) {
  return address.starts_with("127.");
}

// No candidate and no connection address of the SDP names anything but 127.0.0.0/8 (a c= of
// 0.0.0.0 says "no candidate here").
void expect_loopback_only(const std::string& sdp, std::string_view what) {
  int candidates = 0;
  for (const auto& line : lines_of(sdp)) {
    if (line.starts_with("a=candidate:")) {
      ++candidates;
      EXPECT_TRUE(on_loopback(candidate_address(line.substr(2)))) << what << ": " << line;
    } else if (line.starts_with("c=IN ")) {
      auto address = line.substr(line.rfind(' ') + 1);
      EXPECT_TRUE(on_loopback(address) || address == "0.0.0.0") << what << ": " << line;
    }
  }
  ::testing::Test::RecordProperty(std::string(what) + "_candidates", candidates);
}

std::unique_ptr<WebRtcPeer> start_peer(WebRtcPeerKind kind) {
  std::string error;
  auto peer = WebRtcPeer::start({.kind = kind, .timeout = 60s}, &error);
  if (!peer) ADD_FAILURE() << error;
  return peer;
}

Bytes pattern(size_t size, uint8_t seed) {
  Bytes out(size);
  uint32_t x = 0x9e3779b9u ^ seed;
  for (auto& b : out) {
    x = x * 1664525u + 1013904223u;
    b = static_cast<uint8_t>(x >> 24);
  }
  return out;
}

// Negotiates `channels` with `offerer` offering, and waits until every one is open on both
// sides with the same stream id.
void connect(WebRtcPeer& offerer, WebRtcPeer& answerer,
             const std::vector<DataChannelInit>& channels, bool trickle) {
  auto offer = offerer.create_offer(channels, kStep);
  ASSERT_TRUE(offer) << describe(offerer);
  expect_loopback_only(*offer, "offer");
  auto answer = answerer.set_remote_offer(*offer, kStep);
  ASSERT_TRUE(answer) << describe(answerer);
  expect_loopback_only(*answer, "answer");
  ASSERT_TRUE(offerer.set_remote_answer(*answer));
  if (trickle) {
    // The SDPs were printed before gathering. Each side's candidates (and its end) go to the
    // other once it has gathered; Chromium has none on loopback, Firefox has some.
    EXPECT_EQ(offer->find("a=candidate:"), std::string::npos) << *offer;
    EXPECT_EQ(answer->find("a=candidate:"), std::string::npos) << *answer;
    size_t relayed = 0;
    for (auto [from, to] : {std::pair{&answerer, &offerer}, std::pair{&offerer, &answerer}}) {
      ASSERT_TRUE(from->wait_event("end_of_candidates", kStep)) << describe(*from);
      for (const auto& c : from->local_candidates()) {
        ASSERT_TRUE(to->add_candidate(c));
        ++relayed;
      }
      ASSERT_TRUE(to->end_of_candidates());
    }
    EXPECT_GT(relayed, 0u);
  }
  for (const auto& channel : channels) {
    auto ours = offerer.wait_for_channel_open(channel.label, kStep);
    ASSERT_TRUE(ours) << channel.label << " at the offerer: " << describe(offerer);
    auto theirs = answerer.wait_for_channel_open(channel.label, kStep);
    ASSERT_TRUE(theirs) << channel.label << " at the answerer: " << describe(answerer);
    EXPECT_EQ(*ours, *theirs) << channel.label;
  }
  // The candidates each side printed one by one are its SDP's: loopback only.
  for (WebRtcPeer* peer : {&offerer, &answerer}) {
    for (const auto& c : peer->local_candidates())
      EXPECT_TRUE(on_loopback(candidate_address(c.candidate))) << c.candidate;
  }
}

void send_and_expect(WebRtcPeer& from, WebRtcPeer& to, const std::string& label, bool binary,
                     const Bytes& payload) {
  ASSERT_TRUE(binary ? from.send_binary(label, payload) : from.send_text(label, as_chars(payload)))
      << describe(from);
  auto got = to.wait_message(kStep);
  ASSERT_TRUE(got) << payload.size() << " bytes from " << to_string(from.kind()) << ": "
                   << describe(to) << "\n"
                   << describe(from);
  EXPECT_EQ(got->label, label);
  EXPECT_EQ(got->binary, binary);
  EXPECT_EQ(got->data.size(), payload.size());
  EXPECT_TRUE(got->data == payload) << "payload of " << payload.size() << " bytes differs";
}

// The pair each side selected joins two 127.0.0.1 candidates.
void expect_loopback_pair(WebRtcPeer& peer) {
  auto stats = peer.stats(kStep);
  ASSERT_TRUE(stats) << describe(peer);
  const JsonValue* selected = stats->get("selected");
  ASSERT_TRUE(selected && selected->kind == JsonValue::Kind::object) << describe(peer);
  for (const char* side : {"local", "remote"}) {
    const JsonValue* c = selected->get(side);
    ASSERT_TRUE(c) << side;
    EXPECT_EQ(c->string_at("address"), "127.0.0.1") << to_string(peer.kind()) << " " << side;
  }
}

// The whole exchange: two channels (a reliable ordered one and a partially reliable unordered
// one, as cellrtc uses them), messages both ways, a refused LAN candidate, a channel close.
void exercise(WebRtcPeerKind offerer_kind, WebRtcPeerKind answerer_kind, bool trickle = false) {
  std::string error;
  auto peers =
      WebRtcPeer::start_together({{.kind = offerer_kind, .timeout = 60s, .trickle = trickle},
                                  {.kind = answerer_kind, .timeout = 60s, .trickle = trickle}},
                                 &error);
  ASSERT_EQ(peers.size(), 2u) << error;
  WebRtcPeer* offerer = peers[0].get();
  WebRtcPeer* answerer = peers[1].get();
  ::testing::Test::RecordProperty("offerer", offerer->user_agent());
  ::testing::Test::RecordProperty("answerer", answerer->user_agent());

  const std::vector<DataChannelInit> channels = {
      {.label = "control"},
      {.label = "frames", .ordered = false, .max_retransmits = 0},
  };
  ASSERT_NO_FATAL_FAILURE(connect(*offerer, *answerer, channels, trickle));

  for (size_t size : {size_t{1}, size_t{16 * 1024}, size_t{256 * 1024}}) {
    SCOPED_TRACE(size);
    auto payload = pattern(size, static_cast<uint8_t>(size));
    ASSERT_NO_FATAL_FAILURE(send_and_expect(*offerer, *answerer, "control", true, payload));
    ASSERT_NO_FATAL_FAILURE(send_and_expect(*answerer, *offerer, "control", true, payload));
  }
  const std::string text = "{\"cmd\":\"snapshot\",\"note\":\"caf\xc3\xa9\"}";
  ASSERT_NO_FATAL_FAILURE(
      send_and_expect(*answerer, *offerer, "control", false, Bytes(text.begin(), text.end())));
  Bytes big_text(16 * 1024, 'x');
  ASSERT_NO_FATAL_FAILURE(send_and_expect(*offerer, *answerer, "control", false, big_text));

  expect_loopback_pair(*offerer);
  expect_loopback_pair(*answerer);

  // A channel the answerer opens in-band (DCEP) once connected, and a negotiated one that
  // both sides create with the same id (no DCEP).
  ASSERT_TRUE(answerer->create_channel({.label = "late", .protocol = "cellrtc-telemetry"}));
  for (WebRtcPeer* peer : {offerer, answerer})
    ASSERT_TRUE(peer->create_channel({.label = "agreed", .negotiated = true, .id = 10}));
  for (const char* label : {"late", "agreed"}) {
    auto theirs = answerer->wait_for_channel_open(label, kStep);
    ASSERT_TRUE(theirs) << label << ": " << describe(*answerer);
    auto ours = offerer->wait_for_channel_open(label, kStep);
    ASSERT_TRUE(ours) << label << ": " << describe(*offerer);
    EXPECT_EQ(*ours, *theirs) << label;
    if (label == std::string_view("agreed")) {
      EXPECT_EQ(*ours, 10);
    }
  }
  ASSERT_NO_FATAL_FAILURE(send_and_expect(*answerer, *offerer, "late", false, Bytes{'h', 'i'}));
  ASSERT_NO_FATAL_FAILURE(send_and_expect(*offerer, *answerer, "agreed", true, Bytes{1, 2, 3}));

  // A LAN candidate is refused before the peer's ICE agent could ever see it.
  ASSERT_TRUE(offerer->add_candidate({"candidate:1 1 udp 2130706431 192.0.2.1 5000 typ host"}));
  auto refused = offerer->wait_event("error", kStep);
  ASSERT_TRUE(refused) << describe(*offerer);
  EXPECT_NE(refused->string_at("error").value_or("").find("non-loopback"), std::string::npos);

  ASSERT_TRUE(offerer->close_channel("control"));
  EXPECT_TRUE(offerer->wait_event("channel_close", kStep, "control")) << describe(*offerer);
  EXPECT_TRUE(answerer->wait_event("channel_close", kStep, "control")) << describe(*answerer);

  EXPECT_TRUE(offerer->close(10s)) << describe(*offerer);
  EXPECT_TRUE(answerer->close(10s)) << describe(*answerer);
}

// --- the machine has what the browser tests need -------------------------------------------

TEST(WebRtcHarness, BrowserToolsAreInstalled) {
  const std::string hint = " is missing: scripts/setup.sh installs it";
  for (const char* path : {"/usr/bin/node", "/usr/bin/chromium", "/usr/bin/firefox-esr"}) {
    EXPECT_EQ(::access(path, X_OK), 0) << path << hint;
  }
  for (const char* module : {"playwright-core", "puppeteer-core"}) {
    std::string path = cellrtc::test_paths::source_dir() + "/node_modules/" + module;
    EXPECT_EQ(::access((path + "/package.json").c_str(), R_OK), 0) << path << hint << " (npm ci)";
  }
}

TEST(WebRtcHarness, SaysWhatToInstallWhenNodeIsMissing) {
  std::string error;
  auto peer =
      WebRtcPeer::start({.kind = WebRtcPeerKind::chromium, .node = "/nonexistent/node"}, &error);
  EXPECT_FALSE(peer);
  EXPECT_NE(error.find("/nonexistent/node"), std::string::npos) << error;
  EXPECT_NE(error.find("scripts/setup.sh"), std::string::npos) << error;
}

// --- the line protocol, on the quickest peer ------------------------------------------------

TEST(WebRtcHarness, AiortcReportsWhatItCannotDo) {
  auto peer = start_peer(WebRtcPeerKind::aiortc);
  ASSERT_TRUE(peer);
  EXPECT_TRUE(peer->user_agent().starts_with("aiortc/")) << peer->user_agent();
  ASSERT_TRUE(peer->send_text("nowhere", "x"));
  auto error = peer->wait_event("error", 5s);
  ASSERT_TRUE(error) << describe(*peer);
  EXPECT_NE(error->string_at("error").value_or("").find("nowhere"), std::string::npos);
  ASSERT_TRUE(peer->add_candidate({"candidate:1 1 udp 2130706431 192.168.1.2 5000 typ host"}));
  error = peer->wait_event("error", 5s);
  ASSERT_TRUE(error) << describe(*peer);
  EXPECT_NE(error->string_at("error").value_or("").find("non-loopback"), std::string::npos);

  // Its offer holds its candidates, all on 127.0.0.1.
  auto offer = peer->create_offer({{.label = "control"}}, kStep);
  ASSERT_TRUE(offer) << describe(*peer);
  expect_loopback_only(*offer, "offer");
  EXPECT_NE(offer->find("a=candidate:"), std::string::npos) << *offer;
  EXPECT_NE(offer->find("a=max-message-size:262144"), std::string::npos) << *offer;
  EXPECT_TRUE(peer->close(5s)) << describe(*peer);
}

// --- peers against each other ---------------------------------------------------------------

// Chromium gathers no loopback candidate: it connects because aiortc's answer carries one,
// checking from 127.0.0.1 (a peer-reflexive candidate to aiortc).
TEST(WebRtcHarness, ChromiumOffersAiortcAnswers) {
  exercise(WebRtcPeerKind::chromium, WebRtcPeerKind::aiortc);
}

// The direction of a device publishing: the non-browser side offers with its loopback
// candidate and Chromium answers without any.
TEST(WebRtcHarness, AiortcOffersChromiumAnswers) {
  exercise(WebRtcPeerKind::aiortc, WebRtcPeerKind::chromium);
}

TEST(WebRtcHarness, FirefoxOffersAiortcAnswers) {
  exercise(WebRtcPeerKind::firefox, WebRtcPeerKind::aiortc);
}

// With trickle: the SDPs carry no candidate, Firefox's 127.0.0.1 ones are relayed one by one.
TEST(WebRtcHarness, ChromiumOffersFirefoxAnswersWithTrickle) {
  exercise(WebRtcPeerKind::chromium, WebRtcPeerKind::firefox, true);
}

}  // namespace
}  // namespace cellrtc::interop
