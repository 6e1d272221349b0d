// Our PeerConnection against WebRTC stacks no one here wrote, on loopback: aiortc, headless
// Chromium and headless Firefox ESR. Each: a channel opens with cellrtc as offerer and as
// answerer, messages of 1 B to 256 KB go both ways, and the channel closes.
#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <future>
#include <memory>
#include <string>
#include <thread>

#include "core/peer/peer_connection.h"
#include "interop/webrtc_peer.h"
#include "runtime/endpoint_driver.h"
#include "runtime/event_loop.h"
#include "runtime/os_random.h"
#include "support/peer_endpoint.h"

namespace cellrtc::interop {
namespace {

using namespace std::chrono_literals;
using testing::PeerEndpoint;

// Our PeerConnection on one 127.0.0.1 socket, its event loop on a thread of its own. The test
// thread talks to the other peer (blocking reads of its stdout) and reaches ours only through
// call(), which runs a function on the loop thread and waits for it.
class LoopbackPeer {
 public:
  explicit LoopbackPeer(bool lite = false) {
    certificate_ = std::make_unique<dtls::Certificate>(
        dtls::Certificate::generate(rng_, "cellrtc-interop").value());
    peer::PeerConfig config;
    config.certificate = certificate_.get();
    config.ice.lite = lite;
    endpoint_ = std::make_unique<PeerEndpoint>(config, rng_);
    loop_ = std::move(runtime::EventLoop::create().value());
    driver_ = std::make_unique<runtime::EndpointDriver>(*loop_, *endpoint_);
    address_ = driver_->add_socket(SocketAddress(IpAddress::loopback_v4(), 0)).value();
    (void)endpoint_->pc.add_host_socket(loop_->now(), address_);
    endpoint_->pc.end_of_local_sockets(loop_->now());
    endpoint_->drain(loop_->now());
    thread_ = std::thread([this] { loop_->run_until(loop_->now() + seconds(120)); });
  }
  ~LoopbackPeer() {
    loop_->stop();
    thread_.join();
  }

  // Runs `fn(pc, endpoint, now)` on the loop thread; drains and wakes afterwards.
  template <class F>
  auto call(F fn) {
    using R = decltype(fn(endpoint_->pc, *endpoint_, Instant()));
    std::promise<R> done;
    auto result = done.get_future();
    loop_->post([&] {
      Instant now = loop_->now();
      if constexpr (std::is_void_v<R>) {
        fn(endpoint_->pc, *endpoint_, now);
        done.set_value();
      } else {
        done.set_value(fn(endpoint_->pc, *endpoint_, now));
      }
      endpoint_->drain(now);
      driver_->wake();
    });
    return result.get();
  }
  // Polls `pred` on the loop thread until it holds or `limit` passes.
  bool wait(const std::function<bool(PeerEndpoint&)>& pred, std::chrono::milliseconds limit) {
    auto end = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < end) {
      if (call([&](peer::PeerConnection&, PeerEndpoint& e, Instant) { return pred(e); }))
        return true;
      std::this_thread::sleep_for(10ms);
    }
    return false;
  }

 private:
  runtime::OsRandom rng_;
  std::unique_ptr<dtls::Certificate> certificate_;
  std::unique_ptr<PeerEndpoint> endpoint_;
  std::unique_ptr<runtime::EventLoop> loop_;
  std::unique_ptr<runtime::EndpointDriver> driver_;
  SocketAddress address_;
  std::thread thread_;
};

Bytes pattern(size_t n) {
  Bytes b(n);
  for (size_t i = 0; i < n; ++i)
    b[i] = static_cast<uint8_t>((i * 31 + n) & 0xff);
  return b;
}

std::string failure_of(LoopbackPeer& ours) {
  return ours.call([](peer::PeerConnection& pc, PeerEndpoint& e, Instant) {
    return std::string("ours: ") + peer::to_string(pc.state()) + " " +
           (e.failure ? *e.failure : "") + ", ICE " + ice::to_string(pc.ice().state());
  });
}

// Messages both ways on the open channel (`label` at theirs, handle `ours_id` at ours), then
// the channel closes from their side.
void exchange(LoopbackPeer& ours, WebRtcPeer& theirs, const std::string& label, uint16_t ours_id) {
  const std::vector<size_t> sizes = {1, 1000, 16 * 1024, 64 * 1024, 256 * 1024};
  for (size_t n : sizes) {
    ASSERT_TRUE(theirs.send_binary(label, pattern(n)));
    ASSERT_TRUE(ours.wait([&](PeerEndpoint& e) { return !e.messages.empty(); }, 10s))
        << n << " B never reached us; " << failure_of(ours) << "\n"
        << theirs.log_tail();
    auto got = ours.call([](peer::PeerConnection&, PeerEndpoint& e, Instant) {
      auto m = e.messages.front();
      e.messages.erase(e.messages.begin());
      e.message_times.erase(e.message_times.begin());
      return m;
    });
    EXPECT_TRUE(got.binary);
    EXPECT_EQ(got.data, pattern(n)) << n;

    Status sent = ours.call([&](peer::PeerConnection& pc, PeerEndpoint&, Instant now) {
      return pc.send(now, ours_id, pattern(n), true);
    });
    ASSERT_TRUE(sent.ok()) << n << ": " << sent.error().reason;
    auto back = theirs.wait_message(10s);
    ASSERT_TRUE(back) << n << " B never reached them; " << theirs.log_tail();
    EXPECT_TRUE(back->binary);
    EXPECT_EQ(back->data, pattern(n)) << n;
  }
  // A text message, then the close.
  ASSERT_TRUE(theirs.send_text(label, "hello from the browser side"));
  ASSERT_TRUE(ours.wait([&](PeerEndpoint& e) { return !e.messages.empty(); }, 10s));
  ASSERT_TRUE(theirs.close_channel(label));
  EXPECT_TRUE(ours.wait([&](PeerEndpoint& e) { return !e.closed.empty(); }, 10s))
      << failure_of(ours);
}

void they_offer(WebRtcPeerKind kind) {
  std::string error;
  auto theirs = WebRtcPeer::start({.kind = kind}, &error);
  ASSERT_TRUE(theirs) << error;
  auto offer = theirs->create_offer({{.label = "video"}}, 20s);
  ASSERT_TRUE(offer) << theirs->log_tail();
  LoopbackPeer ours;
  Status s = ours.call([&](peer::PeerConnection& pc, PeerEndpoint&, Instant now) {
    return pc.set_remote_description(now, *offer);
  });
  ASSERT_TRUE(s.ok()) << s.error().reason << "\n" << *offer;
  auto answer = ours.call(
      [](peer::PeerConnection& pc, PeerEndpoint&, Instant now) { return pc.create_answer(now); });
  ASSERT_TRUE(answer.ok()) << answer.error().reason;
  ASSERT_TRUE(theirs->set_remote_answer(*answer));
  ASSERT_TRUE(theirs->wait_for_channel_open("video", 20s)) << theirs->log_tail() << "\n"
                                                           << failure_of(ours);
  ASSERT_TRUE(ours.wait([](PeerEndpoint& e) { return !e.open.empty(); }, 10s)) << failure_of(ours);
  uint16_t id = ours.call(
      [](peer::PeerConnection&, PeerEndpoint& e, Instant) { return e.open.begin()->first; });
  auto timeline = ours.call(
      [](peer::PeerConnection& pc, PeerEndpoint&, Instant) { return pc.stats().timeline; });
  std::printf("[ %s offers ] ICE %.1f ms, DTLS %.1f ms, channel %.1f ms after its offer\n",
              std::string(to_string(kind)).c_str(),
              (*timeline.ice_connected - *timeline.remote_description).count() / 1e3,
              (*timeline.dtls_connected - *timeline.remote_description).count() / 1e3,
              (*timeline.first_channel_open - *timeline.remote_description).count() / 1e3);
  exchange(ours, *theirs, "video", id);
  EXPECT_TRUE(theirs->close(10s));
}

void we_offer(WebRtcPeerKind kind) {
  std::string error;
  auto theirs = WebRtcPeer::start({.kind = kind}, &error);
  ASSERT_TRUE(theirs) << error;
  LoopbackPeer ours;
  auto id = ours.call([](peer::PeerConnection& pc, PeerEndpoint&, Instant now) {
    return pc.create_data_channel(now, {.label = "control"});
  });
  ASSERT_TRUE(id.ok());
  auto offer = ours.call(
      [](peer::PeerConnection& pc, PeerEndpoint&, Instant now) { return pc.create_offer(now); });
  ASSERT_TRUE(offer.ok()) << offer.error().reason;
  auto answer = theirs->set_remote_offer(*offer, 20s);
  ASSERT_TRUE(answer) << theirs->log_tail() << "\n" << *offer;
  Status s = ours.call([&](peer::PeerConnection& pc, PeerEndpoint&, Instant now) {
    return pc.set_remote_description(now, *answer);
  });
  ASSERT_TRUE(s.ok()) << s.error().reason << "\n" << *answer;
  ASSERT_TRUE(theirs->wait_for_channel_open("control", 20s)) << theirs->log_tail() << "\n"
                                                             << failure_of(ours);
  ASSERT_TRUE(ours.wait([&](PeerEndpoint& e) { return e.open.count(*id) > 0; }, 10s))
      << failure_of(ours);
  exchange(ours, *theirs, "control", *id);
  EXPECT_TRUE(theirs->close(10s));
}

TEST(PeerInterop, AiortcOffersWeAnswer) {
  they_offer(WebRtcPeerKind::aiortc);
}
TEST(PeerInterop, WeOfferAiortcAnswers) {
  we_offer(WebRtcPeerKind::aiortc);
}
TEST(PeerInterop, ChromiumOffersWeAnswer) {
  they_offer(WebRtcPeerKind::chromium);
}
TEST(PeerInterop, WeOfferChromiumAnswers) {
  we_offer(WebRtcPeerKind::chromium);
}
TEST(PeerInterop, FirefoxOffersWeAnswer) {
  they_offer(WebRtcPeerKind::firefox);
}
TEST(PeerInterop, WeOfferFirefoxAnswers) {
  we_offer(WebRtcPeerKind::firefox);
}

}  // namespace
}  // namespace cellrtc::interop
