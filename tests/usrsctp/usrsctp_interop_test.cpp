// Differential tests against usrsctp (the SCTP stack browsers used for data channels), as an
// in-process peer over AF_CONN: its packets come out of a callback and go straight into our
// association, ours go into usrsctp_conninput. One thread, no usrsctp timer thread
// (usrsctp_init_nothreads); time is virtual and usrsctp's timers and wall clock advance with it
// (support/usrsctp_clock.h), so every run is bounded and repeatable.
#include <gtest/gtest.h>
#include <usrsctp.h>

#include <arpa/inet.h>

#include <cerrno>
#include <cstring>
#include <deque>
#include <functional>
#include <set>
#include <vector>

#include "core/common/random.h"
#include "core/sctp/sctp_association.h"
#include "core/sctp/sctp_packet.h"
#include "support/usrsctp_clock.h"

namespace cellrtc::sctp {
namespace {

class Harness;
std::set<Harness*>& live() {
  static std::set<Harness*> s;
  return s;
}

int conn_output(void* addr, void* buffer, size_t length, uint8_t, uint8_t);

void init_usrsctp_once() {
  static bool done = [] {
    usrsctp_init_nothreads(0, conn_output, nullptr);
    usrsctp_sysctl_set_sctp_ecn_enable(0);
    usrsctp_sysctl_set_sctp_auth_enable(0);
    usrsctp_sysctl_set_sctp_asconf_enable(0);
    usrsctp_sysctl_set_sctp_pr_enable(1);
    usrsctp_sysctl_set_sctp_reconfig_enable(1);
    usrsctp_sysctl_set_sctp_nrsack_enable(0);
    usrsctp_sysctl_set_sctp_blackhole(2);
    return true;
  }();
  (void)done;
}

struct PeerMessage {
  uint16_t stream;
  uint32_t ppid;
  bool unordered;
  Bytes data;
};

Bytes pattern(size_t n, uint8_t seed) {
  Bytes b(n);
  for (size_t i = 0; i < n; ++i)
    b[i] = static_cast<uint8_t>(i * 13 + seed);
  return b;
}

// Our association and one usrsctp socket joined back to back.
class Harness {
  // First: usrsctp stamps times from the moment its socket exists.
  testing::UsrsctpClock clock_{Instant{}};

 public:
  enum class Open { we_connect, usrsctp_connects, both_connect };

  explicit Harness(Open open, uint64_t seed = 1)
      : port_(next_port()), rng_(seed), ours(config(port_), rng_) {
    init_usrsctp_once();
    live().insert(this);
    usrsctp_register_address(this);
    sock_ = usrsctp_socket(AF_CONN, SOCK_STREAM, IPPROTO_SCTP, nullptr, nullptr, 0, nullptr);
    configure(sock_);
    sockaddr_conn local = address();
    if (usrsctp_bind(sock_, reinterpret_cast<sockaddr*>(&local), sizeof local) < 0)
      ADD_FAILURE() << "bind: " << std::strerror(errno);
    if (open == Open::we_connect) {
      listening_ = true;
      usrsctp_listen(sock_, 1);
    } else {
      sockaddr_conn remote = address();
      int r = usrsctp_connect(sock_, reinterpret_cast<sockaddr*>(&remote), sizeof remote);
      if (r < 0 && errno != EINPROGRESS) ADD_FAILURE() << "connect: " << std::strerror(errno);
    }
    if (open != Open::usrsctp_connects) ours.connect(now);
    ours.set_remote_max_message_size(0);
  }
  ~Harness() {
    live().erase(this);
    if (conn_) usrsctp_close(conn_);
    if (sock_ && sock_ != conn_) usrsctp_close(sock_);
    usrsctp_deregister_address(this);
  }

  // usrsctp keeps closed associations' ports a while: every harness gets its own.
  static uint16_t next_port() {
    static uint16_t port = 5000;
    return port++;
  }
  static SctpConfig config(uint16_t port) {
    SctpConfig c;
    c.local_port = port;
    c.remote_port = port;
    c.max_receive_message_size = 512 * 1024;
    c.send_buffer_limit = 2 * 1024 * 1024;
    c.stream_send_buffer_limit = 2 * 1024 * 1024;
    return c;
  }

  void from_usrsctp(const uint8_t* data, size_t size) {
    Bytes b(data, data + size);
    ++packets_from_usrsctp;
    if (drop_from_usrsctp && drop_from_usrsctp(b)) return;
    to_ours_.push_back(std::move(b));
  }

  // Moves packets both ways until neither side has anything more to say.
  void pump() {
    for (int round = 0; round < 10000; ++round) {
      bool moved = false;
      while (auto p = ours.poll_transmit()) {
        moved = true;
        if (drop_from_ours && drop_from_ours(*p)) continue;
        usrsctp_conninput(this, p->data(), p->size(), 0);
      }
      while (!to_ours_.empty()) {
        moved = true;
        Bytes b = std::move(to_ours_.front());
        to_ours_.pop_front();
        ours.handle_packet(now, b);
      }
      while (auto e = ours.poll_event())
        our_events.push_back(std::move(*e));
      moved |= read_usrsctp();
      moved |= flush_usrsctp_sends();
      if (!moved) return;
    }
    ADD_FAILURE() << "packets never stopped";
  }

  // Runs in 10 ms steps of virtual time until done() or `limit`.
  bool run(const std::function<bool()>& done, Duration limit) {
    Instant deadline = now + limit;
    while (true) {
      pump();
      if (done()) return true;
      if (now >= deadline) return false;
      now += milliseconds(10);
      clock_.advance_to(now);
      if (auto t = ours.next_timeout(); t && *t <= now) ours.handle_timeout(now);
    }
  }

  bool connected() { return ours.state() == SctpState::established && peer_up && conn_ != nullptr; }

  // Queues a message on the usrsctp side (sent as its buffer allows).
  void usrsctp_send(uint16_t stream, uint32_t ppid, Bytes data, bool unordered = false,
                    std::optional<uint32_t> max_rtx = std::nullopt) {
    pending_.push_back({stream, ppid, unordered, std::move(data), max_rtx});
    flush_usrsctp_sends();
  }

  void usrsctp_reset(uint16_t stream) {
    size_t len = sizeof(sctp_reset_streams) + sizeof(uint16_t);
    std::vector<uint8_t> buf(len);
    auto* srs = reinterpret_cast<sctp_reset_streams*>(buf.data());
    srs->srs_assoc_id = SCTP_ALL_ASSOC;
    srs->srs_flags = SCTP_STREAM_RESET_OUTGOING;
    srs->srs_number_streams = 1;
    srs->srs_stream_list[0] = stream;
    if (usrsctp_setsockopt(conn_, IPPROTO_SCTP, SCTP_RESET_STREAMS, srs,
                           static_cast<socklen_t>(len)) < 0)
      ADD_FAILURE() << "SCTP_RESET_STREAMS: " << std::strerror(errno);
  }

  template <class E>
  std::vector<E> our(const char* = nullptr) const {
    std::vector<E> out;
    for (const auto& e : our_events)
      if (auto* x = std::get_if<E>(&e)) out.push_back(*x);
    return out;
  }

  Instant now;
  std::function<bool(const Bytes&)> drop_from_usrsctp;
  std::function<bool(const Bytes&)> drop_from_ours;
  uint64_t packets_from_usrsctp = 0;
  bool peer_up = false;
  std::vector<PeerMessage> peer_messages;
  std::vector<uint16_t> peer_reset_streams;  // incoming resets usrsctp reported
  std::vector<SctpEvent> our_events;

 private:
  struct Pending {
    uint16_t stream;
    uint32_t ppid;
    bool unordered;
    Bytes data;
    std::optional<uint32_t> max_rtx;
  };

  sockaddr_conn address() {
    sockaddr_conn a{};
    a.sconn_family = AF_CONN;
    a.sconn_port = htons(port_);
    a.sconn_addr = this;
    return a;
  }

  static void configure(struct socket* s) {
    usrsctp_set_non_blocking(s, 1);
    int on = 1;
    usrsctp_setsockopt(s, IPPROTO_SCTP, SCTP_NODELAY, &on, sizeof on);
    usrsctp_setsockopt(s, IPPROTO_SCTP, SCTP_RECVRCVINFO, &on, sizeof on);
    int buf = 4 * 1024 * 1024;
    usrsctp_setsockopt(s, SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
    usrsctp_setsockopt(s, SOL_SOCKET, SO_SNDBUF, &buf, sizeof buf);
    sctp_assoc_value reset{};
    reset.assoc_id = SCTP_FUTURE_ASSOC;
    reset.assoc_value = SCTP_ENABLE_RESET_STREAM_REQ;
    usrsctp_setsockopt(s, IPPROTO_SCTP, SCTP_ENABLE_STREAM_RESET, &reset, sizeof reset);
    for (uint16_t type : {SCTP_ASSOC_CHANGE, SCTP_STREAM_RESET_EVENT}) {
      sctp_event ev{};
      ev.se_assoc_id = SCTP_FUTURE_ASSOC;
      ev.se_type = type;
      ev.se_on = 1;
      usrsctp_setsockopt(s, IPPROTO_SCTP, SCTP_EVENT, &ev, sizeof ev);
    }
  }

  bool flush_usrsctp_sends() {
    bool moved = false;
    while (conn_ && !pending_.empty()) {
      Pending& p = pending_.front();
      sctp_sendv_spa spa{};
      spa.sendv_flags = SCTP_SEND_SNDINFO_VALID;
      spa.sendv_sndinfo.snd_sid = p.stream;
      spa.sendv_sndinfo.snd_ppid = htonl(p.ppid);
      spa.sendv_sndinfo.snd_flags = SCTP_EOR | (p.unordered ? SCTP_UNORDERED : 0);
      if (p.max_rtx) {
        spa.sendv_flags |= SCTP_SEND_PRINFO_VALID;
        spa.sendv_prinfo.pr_policy = SCTP_PR_SCTP_RTX;
        spa.sendv_prinfo.pr_value = *p.max_rtx;
      }
      ssize_t n = usrsctp_sendv(conn_, p.data.data(), p.data.size(), nullptr, 0, &spa, sizeof spa,
                                SCTP_SENDV_SPA, 0);
      if (n < 0) break;  // EWOULDBLOCK: the send buffer is full, retried later
      pending_.pop_front();
      moved = true;
    }
    return moved;
  }

  bool read_usrsctp() {
    bool moved = false;
    if (listening_ && !conn_) {
      conn_ = usrsctp_accept(sock_, nullptr, nullptr);
      if (conn_) {
        configure(conn_);
        moved = true;
      }
    }
    if (!listening_) conn_ = sock_;
    if (!conn_) return moved;
    static std::vector<uint8_t> buf(1 << 20);
    while (true) {
      sctp_rcvinfo info{};
      socklen_t infolen = sizeof info;
      unsigned int infotype = 0;
      int flags = 0;
      sockaddr_conn from{};
      socklen_t fromlen = sizeof from;
      ssize_t n = usrsctp_recvv(conn_, buf.data(), buf.size(), reinterpret_cast<sockaddr*>(&from),
                                &fromlen, &info, &infolen, &infotype, &flags);
      if (n <= 0) break;
      moved = true;
      if (flags & MSG_NOTIFICATION) {
        auto* note = reinterpret_cast<const sctp_notification*>(buf.data());
        if (note->sn_header.sn_type == SCTP_ASSOC_CHANGE &&
            note->sn_assoc_change.sac_state == SCTP_COMM_UP)
          peer_up = true;
        if (note->sn_header.sn_type == SCTP_STREAM_RESET_EVENT &&
            (note->sn_strreset_event.strreset_flags & SCTP_STREAM_RESET_INCOMING_SSN)) {
          size_t count =
              (note->sn_strreset_event.strreset_length - sizeof(sctp_stream_reset_event)) /
              sizeof(uint16_t);
          for (size_t i = 0; i < count; ++i)
            peer_reset_streams.push_back(note->sn_strreset_event.strreset_stream_list[i]);
        }
        continue;
      }
      partial_.insert(partial_.end(), buf.begin(), buf.begin() + n);
      if (flags & MSG_EOR) {
        peer_messages.push_back({info.rcv_sid, ntohl(info.rcv_ppid),
                                 (info.rcv_flags & SCTP_UNORDERED) != 0, std::move(partial_)});
        partial_.clear();
      }
    }
    return moved;
  }

  uint16_t port_;
  SeededRandom rng_;

 public:
  SctpAssociation ours;

 private:
  struct socket* sock_ = nullptr;
  struct socket* conn_ = nullptr;
  bool listening_ = false;
  std::deque<Bytes> to_ours_;
  std::deque<Pending> pending_;
  Bytes partial_;
};

int conn_output(void* addr, void* buffer, size_t length, uint8_t, uint8_t) {
  auto* h = static_cast<Harness*>(addr);
  if (live().count(h)) h->from_usrsctp(static_cast<const uint8_t*>(buffer), length);
  return 0;
}

std::optional<DataChunk> first_data(const Bytes& packet, Bytes& keep) {
  keep = packet;
  auto p = parse_packet(keep, false);
  if (!p) return std::nullopt;
  for (const RawChunk& c : p->chunks)
    if (c.type == 0)
      if (auto d = DataChunk::parse(c)) return *d;
  return std::nullopt;
}

void exchange_all_sizes(Harness& h) {
  const std::vector<size_t> sizes = {1, 2, 100, 1171, 1172, 1173, 5000, 65536, 100000, 262144};
  for (size_t i = 0; i < sizes.size(); ++i) {
    ASSERT_TRUE(h.ours.send(h.now, 1, 53, pattern(sizes[i], static_cast<uint8_t>(i))).ok());
    h.usrsctp_send(2, 51, pattern(sizes[i], static_cast<uint8_t>(i + 100)));
  }
  ASSERT_TRUE(h.run(
      [&] {
        return h.peer_messages.size() == sizes.size() &&
               h.our<event::Message>().size() == sizes.size();
      },
      seconds(60)))
      << h.peer_messages.size() << " at usrsctp, " << h.our<event::Message>().size() << " at ours";
  auto ours = h.our<event::Message>();
  for (size_t i = 0; i < sizes.size(); ++i) {
    EXPECT_EQ(h.peer_messages[i].stream, 1);
    EXPECT_EQ(h.peer_messages[i].ppid, 53u);
    EXPECT_EQ(h.peer_messages[i].data, pattern(sizes[i], static_cast<uint8_t>(i))) << sizes[i];
    EXPECT_EQ(ours[i].stream, 2);
    EXPECT_EQ(ours[i].ppid, 51u);
    EXPECT_EQ(ours[i].data, pattern(sizes[i], static_cast<uint8_t>(i + 100))) << sizes[i];
  }
}

TEST(UsrsctpInterop, WeConnectMessagesBothWays) {
  Harness h(Harness::Open::we_connect);
  ASSERT_TRUE(h.run([&] { return h.connected(); }, seconds(10)));
  exchange_all_sizes(h);
}

TEST(UsrsctpInterop, UsrsctpConnectsMessagesBothWays) {
  Harness h(Harness::Open::usrsctp_connects);
  ASSERT_TRUE(h.run([&] { return h.connected(); }, seconds(10)));
  exchange_all_sizes(h);
}

TEST(UsrsctpInterop, BothConnectAtOnce) {
  Harness h(Harness::Open::both_connect);
  ASSERT_TRUE(h.run([&] { return h.connected(); }, seconds(10)));
  exchange_all_sizes(h);
}

TEST(UsrsctpInterop, UnorderedAndPartialReliabilityFromUsrsctp) {
  Harness h(Harness::Open::we_connect);
  ASSERT_TRUE(h.run([&] { return h.connected(); }, seconds(10)));
  // Every first transmission of a message on stream 3 is lost: usrsctp abandons it
  // (max retransmissions 0) and tells us with FORWARD TSN.
  Bytes keep;
  std::set<uint32_t> seen;
  h.drop_from_usrsctp = [&](const Bytes& b) {
    auto d = first_data(b, keep);
    return d && d->stream == 3 && seen.insert(d->tsn).second && d->payload[0] % 2 == 0;
  };
  for (uint8_t i = 0; i < 20; ++i)
    h.usrsctp_send(3, 53, Bytes(500, i), /*unordered=*/i % 4 == 0, /*max_rtx=*/0);
  h.usrsctp_send(3, 51, Bytes(10, 99));  // reliable, after all of them
  // Nothing else is sent: usrsctp's retransmission timer must notice the losses and its
  // FORWARD TSN move our cumulative point past them.
  auto got_reliable = [&] {
    for (const auto& msg : h.our<event::Message>())
      if (msg.data == Bytes(10, 99)) return true;
    return false;
  };
  ASSERT_TRUE(h.run(got_reliable, seconds(10)))
      << h.our<event::Message>().size() << " messages, " << h.packets_from_usrsctp
      << " packets from usrsctp";
  // Packets carry several messages, so which ones are lost is not known exactly; what must
  // hold: some were skipped, none twice, ordered ones in order, and nothing waited for them.
  auto m = h.our<event::Message>();
  size_t on_stream_3 = 0;
  for (const auto& msg : m)
    on_stream_3 += msg.stream == 3;
  EXPECT_LT(on_stream_3, 21u);
  std::set<uint8_t> got;
  int last_ordered = -1;
  for (const auto& msg : m) {
    if (msg.stream == 7) continue;
    EXPECT_TRUE(got.insert(msg.data[0]).second);
    if (!msg.unordered && msg.data[0] != 99) {
      EXPECT_GT(msg.data[0], last_ordered);
      last_ordered = msg.data[0];
    }
    if (msg.data[0] != 99) {
      EXPECT_EQ(msg.unordered, msg.data[0] % 4 == 0);
    }
  }
  EXPECT_TRUE(h.run([&] { return h.ours.stats().bytes_in_flight == 0; }, seconds(5)));
}

// usrsctp's T3-rtx under virtual time: a lost message with nothing sent after it (so no SACK
// can report the loss) arrives once its retransmission timer fires, about one RTO later.
TEST(UsrsctpInterop, UsrsctpRetransmitsOnItsTimer) {
  Harness h(Harness::Open::we_connect);
  ASSERT_TRUE(h.run([&] { return h.connected(); }, seconds(10)));
  Bytes keep;
  int dropped = 0;
  h.drop_from_usrsctp = [&](const Bytes& b) {
    auto d = first_data(b, keep);
    return d && d->stream == 2 && dropped++ == 0;
  };
  sctpstat before{};
  usrsctp_get_stat(&before);
  Instant sent = h.now;
  h.usrsctp_send(2, 51, Bytes(100, 7));
  ASSERT_TRUE(h.run([&] { return h.our<event::Message>().size() == 1; }, seconds(10)));
  EXPECT_EQ(dropped, 2);  // the first transmission, then the retransmission that got through
  sctpstat after{};
  usrsctp_get_stat(&after);
  EXPECT_GE(after.sctps_timodata - before.sctps_timodata, 1u);
  // RFC 9260 section 6.3.3: T3-rtx runs for the RTO, at least RTO.min (1 s in usrsctp).
  EXPECT_GE(h.now - sent, milliseconds(900));
}

TEST(UsrsctpInterop, UnorderedAndPartialReliabilityToUsrsctp) {
  Harness h(Harness::Open::usrsctp_connects);
  ASSERT_TRUE(h.run([&] { return h.connected(); }, seconds(10)));
  Bytes keep;
  std::set<uint32_t> seen;
  h.drop_from_ours = [&](const Bytes& b) {
    auto d = first_data(b, keep);
    return d && d->stream == 4 && seen.insert(d->tsn).second && d->payload[0] % 2 == 0;
  };
  SendOptions once;
  once.max_retransmits = 0;
  for (uint8_t i = 0; i < 20; ++i) {
    once.unordered = i % 4 == 1;
    ASSERT_TRUE(h.ours.send(h.now, 4, 53, Bytes(3000, i), once).ok());  // 3 fragments each
    h.pump();
  }
  ASSERT_TRUE(h.ours.send(h.now, 4, 51, Bytes(10, 99)).ok());
  ASSERT_TRUE(h.run(
      [&] { return !h.peer_messages.empty() && h.peer_messages.back().data == Bytes(10, 99); },
      seconds(30)))
      << h.peer_messages.size();
  EXPECT_EQ(h.peer_messages.size(), 11u);
  for (const auto& msg : h.peer_messages) {
    EXPECT_EQ(msg.data[0] % 2, 1) << int(msg.data[0]);
    if (msg.data[0] != 99) {
      EXPECT_EQ(msg.unordered, msg.data[0] % 4 == 1);
    }
  }
  EXPECT_GE(h.ours.stats().abandoned_messages, 10u);
}

TEST(UsrsctpInterop, StreamResetBothWays) {
  Harness h(Harness::Open::both_connect);
  ASSERT_TRUE(h.run([&] { return h.connected(); }, seconds(10)));
  ASSERT_TRUE(h.ours.send(h.now, 5, 51, Bytes(100, 1)).ok());
  uint16_t streams[] = {5};
  ASSERT_TRUE(h.ours.reset_streams(h.now, streams).ok());
  ASSERT_TRUE(h.run([&] { return !h.our<event::OutgoingResetDone>().empty(); }, seconds(10)));
  EXPECT_TRUE(h.our<event::OutgoingResetDone>()[0].success);
  ASSERT_TRUE(h.run([&] { return !h.peer_reset_streams.empty(); }, seconds(5)));
  EXPECT_EQ(h.peer_reset_streams, std::vector<uint16_t>{5});
  ASSERT_EQ(h.peer_messages.size(), 1u);

  h.usrsctp_send(6, 51, Bytes(50, 2));
  ASSERT_TRUE(h.run([&] { return h.our<event::Message>().size() == 1; }, seconds(5)));
  h.usrsctp_reset(6);
  ASSERT_TRUE(h.run([&] { return !h.our<event::StreamsResetByPeer>().empty(); }, seconds(10)));
  EXPECT_EQ(h.our<event::StreamsResetByPeer>()[0].streams, std::vector<uint16_t>{6});
  // Both streams are usable again from SSN 0.
  ASSERT_TRUE(h.ours.send(h.now, 5, 51, Bytes(7, 3)).ok());
  h.usrsctp_send(6, 51, Bytes(8, 4));
  ASSERT_TRUE(
      h.run([&] { return h.peer_messages.size() == 2 && h.our<event::Message>().size() == 2; },
            seconds(10)));
}

TEST(UsrsctpInterop, WeShutDownAfterQueuedData) {
  Harness h(Harness::Open::we_connect);
  ASSERT_TRUE(h.run([&] { return h.connected(); }, seconds(10)));
  ASSERT_TRUE(h.ours.send(h.now, 1, 51, Bytes(20000, 5)).ok());
  h.ours.shutdown(h.now);
  ASSERT_TRUE(h.run([&] { return h.ours.state() == SctpState::closed; }, seconds(10)));
  EXPECT_EQ(h.our<event::Closed>().size(), 1u);
  ASSERT_EQ(h.peer_messages.size(), 1u);
  EXPECT_EQ(h.peer_messages[0].data.size(), 20000u);
}

}  // namespace
}  // namespace cellrtc::sctp
