// SDP for the data-channel subset (RFC 8866, RFC 8829, RFC 8841, RFC 8839, RFC 8122,
// RFC 8842, RFC 8843): offers as Chrome, Firefox, aiortc and libpeer write them (the seed
// corpus of fuzz/sdp_fuzz), the answers we make for them, round trips, and the errors for
// malformed descriptions with the line they point at.
#include <gtest/gtest.h>

#include <fstream>
#include <initializer_list>
#include <iterator>
#include <string>

#include "core/sdp/negotiation.h"
#include "core/sdp/session_description.h"
#include "support/build_paths.h"

namespace cellrtc::sdp {
namespace {

std::string corpus(const char* name) {
  std::string path = cellrtc::test_paths::source_dir() + "/fuzz/corpus/sdp/" + name;
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << path;
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

SessionDescription parse_ok(const std::string& text) {
  auto r = parse_sdp(text);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : describe(r.error()));
  return r.ok() ? *r : SessionDescription{};
}

std::string join(std::initializer_list<const char*> lines) {
  std::string out;
  for (const char* l : lines) {
    out += l;
    out += "\r\n";
  }
  return out;
}

// The session part every test description starts with (lines 1..4).
std::string head() {
  return join({"v=0", "o=- 1 1 IN IP4 0.0.0.0", "s=-", "t=0 0"});
}

// A complete data section (lines 5..12 after head()).
std::string data_section(const char* mid = "0") {
  std::string m = join({"m=application 9 UDP/DTLS/SCTP webrtc-datachannel", "c=IN IP4 0.0.0.0",
                        "a=ice-ufrag:abcd", "a=ice-pwd:0123456789abcdefghijkl",
                        "a=fingerprint:sha-256 "
                        "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:"
                        "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF",
                        "a=setup:actpass", "a=sctp-port:5000"});
  return m + "a=mid:" + mid + "\r\n";
}

SdpError parse_error(const std::string& text, const SdpLimits& limits = {}) {
  auto r = parse_sdp(text, limits);
  EXPECT_FALSE(r.ok()) << text;
  return r.ok() ? SdpError{} : r.error();
}

void expect_error(const std::string& text, Errc code, size_t line, std::string_view reason = {}) {
  SdpError e = parse_error(text);
  EXPECT_EQ(e.code, code) << describe(e);
  EXPECT_EQ(e.line, line) << describe(e);
  if (!reason.empty()) {
    EXPECT_EQ(std::string_view(e.reason), reason) << describe(e);
  }
}

LocalParameters local() {
  LocalParameters p;
  p.ice_ufrag = "cRtc";
  p.ice_pwd = "Jk2mN4pQ6rS8tU0vW2xY4zA6";
  p.fingerprint.algorithm = "sha-256";
  for (uint8_t i = 0; i < 32; ++i)
    p.fingerprint.value.push_back(static_cast<uint8_t>(i * 7));
  p.session_id = 4611686018427387904ULL;
  p.session_version = 2;
  return p;
}

SessionDescription answer_ok(const SessionDescription& offer, const LocalParameters& p = local()) {
  auto a = make_answer(offer, p);
  EXPECT_TRUE(a.ok()) << (a.ok() ? "" : a.error().reason);
  return a.ok() ? *a : SessionDescription{};
}

// --- Offers from real peers ---------------------------------------------------------------

TEST(Sdp, ChromeDataOnlyOffer) {
  SessionDescription d = parse_ok(corpus("chrome_data_offer"));
  EXPECT_EQ(d.origin.username, "-");
  EXPECT_EQ(d.origin.session_id, 7614219274584779017ULL);
  EXPECT_EQ(d.origin.session_version, 2u);
  EXPECT_EQ(d.origin.address, "127.0.0.1");
  ASSERT_NE(d.bundle_group(), nullptr);
  EXPECT_EQ(d.bundle_group()->mids, std::vector<std::string>{"0"});
  EXPECT_TRUE(d.extmap_allow_mixed);
  EXPECT_EQ(d.msid_semantic, "WMS");
  EXPECT_FALSE(d.ice_lite);
  EXPECT_FALSE(d.ice_ufrag);
  ASSERT_EQ(d.media.size(), 1u);
  const MediaSection& m = d.media[0];
  EXPECT_EQ(d.data_section(), &m);
  EXPECT_EQ(m.kind, MediaKind::application);
  EXPECT_EQ(m.port, 9);
  EXPECT_EQ(m.proto, Proto::udp_dtls_sctp);
  EXPECT_EQ(m.formats, std::vector<std::string>{"webrtc-datachannel"});
  ASSERT_TRUE(m.connection);
  EXPECT_EQ(m.connection->address, "0.0.0.0");
  EXPECT_EQ(m.mid, "0");
  EXPECT_EQ(m.ice_ufrag, "Xq3v");
  EXPECT_EQ(m.ice_pwd, "eQ4hS0pOq5xO9PbnNH6Ow2Mr");
  EXPECT_TRUE(m.trickle());
  ASSERT_NE(m.fingerprint(), nullptr);
  EXPECT_EQ(m.fingerprint()->value.size(), 32u);
  EXPECT_EQ(m.fingerprint()->value[0], 0x9C);
  EXPECT_EQ(m.fingerprint()->value[31], 0x8E);
  EXPECT_EQ(m.setup, SetupRole::actpass);
  EXPECT_EQ(m.sctp_port, 5000);
  EXPECT_EQ(m.max_message_size, 262144u);
  ASSERT_EQ(m.candidates.size(), 2u);
  EXPECT_EQ(m.candidates[0].hostname, "5f2b8c7e-1d2a-4a3b-9c8d-0e1f2a3b4c5d.local");
  EXPECT_EQ(m.candidates[1].type, ice::CandidateType::server_reflexive);
  EXPECT_FALSE(m.end_of_candidates);
  EXPECT_TRUE(m.attributes.empty());
}

TEST(Sdp, ChromeOfferWithAudioAndVideo) {
  SessionDescription d = parse_ok(corpus("chrome_av_data_offer"));
  ASSERT_EQ(d.media.size(), 3u);
  EXPECT_EQ(d.msid_semantic, "WMS 6f1c2a90-3b7d-4e58-a1c4-92d0e5f7b318");
  EXPECT_EQ(d.bundle_group()->mids, (std::vector<std::string>{"0", "1", "2"}));
  EXPECT_EQ(d.media[0].kind, MediaKind::audio);
  EXPECT_EQ(d.media[0].proto, Proto::rtp);
  EXPECT_EQ(d.media[0].proto_text, "UDP/TLS/RTP/SAVPF");
  EXPECT_EQ(d.media[0].formats.size(), 8u);
  EXPECT_EQ(d.media[0].formats[0], "111");
  EXPECT_EQ(d.media[0].mid, "0");
  EXPECT_FALSE(d.media[0].is_data_channel());
  EXPECT_EQ(d.media[1].kind, MediaKind::video);
  EXPECT_EQ(d.media[1].mid, "1");
  EXPECT_EQ(d.media[1].formats[0], "96");
  EXPECT_EQ(d.media[2].kind, MediaKind::application);
  EXPECT_EQ(d.media[2].mid, "2");
  EXPECT_EQ(d.data_section(), &d.media[2]);
  EXPECT_EQ(d.media[2].ice_ufrag, "h7Rk");

  SessionDescription a = answer_ok(d);
  ASSERT_EQ(a.media.size(), 3u);
  // RFC 3264 section 6 / RFC 8843 section 7.3.3: rejected, same order and mid, one format.
  EXPECT_EQ(a.media[0].port, 0);
  EXPECT_EQ(a.media[0].media, "audio");
  EXPECT_EQ(a.media[0].formats, std::vector<std::string>{"111"});
  EXPECT_EQ(a.media[0].mid, "0");
  EXPECT_EQ(a.media[1].port, 0);
  EXPECT_EQ(a.media[1].formats, std::vector<std::string>{"96"});
  EXPECT_EQ(a.media[1].mid, "1");
  EXPECT_EQ(a.media[2].port, 9);
  EXPECT_EQ(a.media[2].mid, "2");
  EXPECT_EQ(a.media[2].setup, SetupRole::active);
  ASSERT_EQ(a.groups.size(), 1u);
  EXPECT_EQ(a.groups[0].mids, std::vector<std::string>{"2"});
  std::string text = write_sdp(a);
  EXPECT_NE(text.find("\r\nm=audio 0 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\n"),
            std::string::npos);
  EXPECT_NE(text.find("\r\nm=video 0 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\na=mid:1\r\n"),
            std::string::npos);
  EXPECT_NE(text.find("\r\na=group:BUNDLE 2\r\n"), std::string::npos);
  EXPECT_EQ(parse_ok(text), a);
}

TEST(Sdp, FirefoxOfferWithSessionLevelFingerprint) {
  SessionDescription d = parse_ok(corpus("firefox_data_offer"));
  EXPECT_EQ(d.origin.username, "mozilla...THIS_IS_SDPARTA-128.0");
  EXPECT_EQ(d.origin.session_id, 6180862712335393640ULL);
  EXPECT_EQ(d.msid_semantic, "WMS *");
  ASSERT_EQ(d.fingerprints.size(), 1u);
  EXPECT_EQ(d.ice_options, std::vector<std::string>{"trickle"});
  const MediaSection* m = d.data_section();
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->fingerprints, d.fingerprints);  // inherited from the session level
  EXPECT_TRUE(m->trickle());
  EXPECT_EQ(m->ice_ufrag, "c3a91f0e");
  EXPECT_EQ(m->ice_pwd, "5b0b6c1f9e3a47d28c4e1a7f90d3b265");
  ASSERT_EQ(m->candidates.size(), 3u);
  EXPECT_EQ(m->candidates[1].transport, TransportProtocol::tcp);
  EXPECT_EQ(m->candidates[1].tcp_type, ice::TcpType::active);
  EXPECT_TRUE(m->end_of_candidates);
  EXPECT_EQ(m->max_message_size, 1073741823u);
  ASSERT_EQ(m->attributes.size(), 1u);
  EXPECT_EQ(m->attributes[0], (Attribute{"sendrecv", "", false}));
  EXPECT_EQ(answer_ok(d).media[0].setup, SetupRole::active);
}

TEST(Sdp, AiortcLegacySctpOffer) {
  SessionDescription d = parse_ok(corpus("aiortc_legacy_offer"));
  const MediaSection* m = d.data_section();
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->proto, Proto::dtls_sctp);
  EXPECT_EQ(m->port, 51234);
  EXPECT_EQ(m->formats, std::vector<std::string>{"5000"});
  EXPECT_EQ(m->sctp_port, 5000);
  EXPECT_EQ(m->max_message_size, 65536u);
  EXPECT_EQ(m->connection->address, "192.168.1.5");
  ASSERT_EQ(m->attributes.size(), 1u);
  EXPECT_EQ(m->attributes[0], (Attribute{"sctpmap", "5000 webrtc-datachannel 65535", true}));
  EXPECT_EQ(m->candidates.size(), 2u);
  EXPECT_TRUE(m->end_of_candidates);
  EXPECT_FALSE(m->trickle());

  // An old peer is answered in its own form.
  std::string text = write_sdp(answer_ok(d));
  EXPECT_NE(text.find("\r\nm=application 9 DTLS/SCTP 5000\r\n"), std::string::npos) << text;
  EXPECT_NE(text.find("\r\na=sctpmap:5000 webrtc-datachannel 1024\r\n"), std::string::npos);
  EXPECT_EQ(text.find("a=sctp-port"), std::string::npos);
}

TEST(Sdp, LibpeerOfferWithSessionLevelIceAndSetupPassive) {
  SessionDescription d = parse_ok(corpus("libpeer_offer"));
  EXPECT_EQ(d.ice_ufrag, "pZbL");
  EXPECT_EQ(d.ice_pwd, "kEt9WqUf0v1yAvWzFh3d7b2c");
  EXPECT_EQ(d.setup, SetupRole::passive);
  EXPECT_EQ(d.fingerprints.size(), 1u);
  EXPECT_EQ(d.msid_semantic, "iot");
  const MediaSection* m = d.data_section();
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->mid, "datachannel");
  EXPECT_EQ(m->port, 50712);
  EXPECT_EQ(m->ice_ufrag, "pZbL");
  EXPECT_EQ(m->ice_pwd, "kEt9WqUf0v1yAvWzFh3d7b2c");
  EXPECT_EQ(m->setup, SetupRole::passive);
  EXPECT_EQ(m->fingerprints, d.fingerprints);
  ASSERT_EQ(m->candidates.size(), 1u);
  EXPECT_EQ(m->candidates[0].address, *SocketAddress::parse("10.64.12.7:50712"));
  EXPECT_FALSE(m->trickle());
  EXPECT_FALSE(m->end_of_candidates);

  SessionDescription a = answer_ok(d);
  EXPECT_EQ(a.media[0].setup, SetupRole::active);  // passive offered: we take active anyway
  EXPECT_EQ(a.media[0].mid, "datachannel");
  EXPECT_EQ(a.bundle_group()->mids, std::vector<std::string>{"datachannel"});
  // Our answer is strict: everything at media level.
  std::string text = write_sdp(a);
  size_t mline = text.find("m=application");
  EXPECT_GT(text.find("a=ice-ufrag:cRtc"), mline);
  EXPECT_GT(text.find("a=setup:active"), mline);

  // Written back, the session-level values stay at the session level.
  std::string again = write_sdp(d);
  mline = again.find("m=application");
  EXPECT_LT(again.find("a=setup:passive"), mline);
  EXPECT_EQ(again.find("a=setup:passive", mline), std::string::npos);
}

TEST(Sdp, LibpeerOfferWithMediaLevelValuesAndMixedLineEndings) {
  // Another libpeer form: setup, ICE and fingerprint inside the section, fragments joined with
  // LF and CRLF (and a blank line where two meet), msid-semantic with two spaces.
  SessionDescription d = parse_ok(corpus("libpeer_offer_mixed_endings"));
  EXPECT_EQ(d.msid_semantic, "iot");
  EXPECT_FALSE(d.ice_ufrag);
  const MediaSection* m = d.data_section();
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->setup, SetupRole::passive);
  EXPECT_EQ(m->ice_ufrag, "Qm7x");
  EXPECT_EQ(m->candidates.size(), 1u);
  EXPECT_NE(m->fingerprint(), nullptr);
  EXPECT_EQ(answer_ok(d).media[0].setup, SetupRole::active);
}

TEST(Sdp, ChromeAnswer) {
  SessionDescription d = parse_ok(corpus("chrome_data_answer"));
  ASSERT_NE(d.data_section(), nullptr);
  EXPECT_EQ(d.data_section()->setup, SetupRole::active);
  EXPECT_EQ(d.data_section()->ice_ufrag, "Lq0d");
}

TEST(Sdp, LiteAnswerWithBareLineFeeds) {
  SessionDescription d = parse_ok(corpus("cellrtc_lite_answer"));
  EXPECT_TRUE(d.ice_lite);
  ASSERT_EQ(d.media.size(), 2u);
  EXPECT_TRUE(d.media[0].rejected());
  EXPECT_EQ(d.data_section(), &d.media[1]);
  EXPECT_EQ(d.media[1].candidates.size(), 2u);
  EXPECT_TRUE(d.media[1].end_of_candidates);
}

TEST(Sdp, EveryCorpusFileRoundTrips) {
  for (const char* name :
       {"chrome_data_offer", "chrome_av_data_offer", "firefox_data_offer", "aiortc_legacy_offer",
        "libpeer_offer", "chrome_data_answer", "cellrtc_lite_answer"}) {
    SCOPED_TRACE(name);
    SessionDescription d = parse_ok(corpus(name));
    std::string text = write_sdp(d);
    SessionDescription again = parse_ok(text);
    EXPECT_EQ(again, d);
    EXPECT_EQ(write_sdp(again), text);
  }
}

TEST(Sdp, CanonicalFormOfAParsedOffer) {
  // Upper-case hex, CRLF, fixed attribute order.
  std::string text =
      head() + "a=group:BUNDLE d\r\n" +
      join({"m=application 9 UDP/DTLS/SCTP webrtc-datachannel", "a=mid:d", "a=setup:actpass",
            "a=ice-pwd:0123456789abcdefghijkl", "a=ice-ufrag:abcd",
            "a=fingerprint:SHA-256 "
            "00:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd:ee:ff:"
            "00:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd:ee:ff",
            "a=max-message-size:0"});
  EXPECT_EQ(write_sdp(parse_ok(text)),
            join({"v=0", "o=- 1 1 IN IP4 0.0.0.0", "s=-", "t=0 0", "a=group:BUNDLE d",
                  "m=application 9 UDP/DTLS/SCTP webrtc-datachannel", "a=mid:d", "a=ice-ufrag:abcd",
                  "a=ice-pwd:0123456789abcdefghijkl",
                  "a=fingerprint:sha-256 "
                  "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:"
                  "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF",
                  "a=setup:actpass", "a=max-message-size:0"}));
}

TEST(Sdp, FingerprintValue) {
  auto fp = parse_fingerprint(
      "SHA-256 9c:41:7A:E2:0B:55:D8:13:6F:C0:A7:3E:92:18:B4:5D:E6:01:7F:C3:28:9A:4B:D0:35:E8:71:"
      "0C:AF:62:13:8E");
  ASSERT_TRUE(fp.ok());
  EXPECT_EQ(fp->algorithm, "sha-256");
  EXPECT_EQ(format_fingerprint(*fp),
            "sha-256 9C:41:7A:E2:0B:55:D8:13:6F:C0:A7:3E:92:18:B4:5D:E6:01:7F:C3:28:9A:4B:D0:35:E8:"
            "71:0C:AF:62:13:8E");
  EXPECT_EQ(format_fingerprint_value(fp->value).size(), 95u);
  EXPECT_FALSE(parse_fingerprint("sha-256 9C-41").ok());
  EXPECT_FALSE(parse_fingerprint("9C:41").ok());
}

// --- Offers and answers we make -------------------------------------------------------------

TEST(Sdp, MakeOffer) {
  LocalParameters p = local();
  p.ice_lite = true;
  p.trickle = false;
  p.end_of_candidates = true;
  p.candidates.push_back(
      *ice::parse_candidate("candidate:1 1 UDP 2130706431 203.0.113.10 3478 "
                            "typ host"));
  auto offer = make_offer(p);
  ASSERT_TRUE(offer.ok());
  EXPECT_EQ(
      write_sdp(*offer),
      join({"v=0", "o=- 4611686018427387904 2 IN IP4 127.0.0.1", "s=-", "t=0 0", "a=group:BUNDLE 0",
            "a=ice-lite", "m=application 9 UDP/DTLS/SCTP webrtc-datachannel", "c=IN IP4 0.0.0.0",
            "a=mid:0", "a=ice-ufrag:cRtc", "a=ice-pwd:Jk2mN4pQ6rS8tU0vW2xY4zA6",
            "a=fingerprint:sha-256 "
            "00:07:0E:15:1C:23:2A:31:38:3F:46:4D:54:5B:62:69:"
            "70:77:7E:85:8C:93:9A:A1:A8:AF:B6:BD:C4:CB:D2:D9",
            "a=setup:actpass", "a=sctp-port:5000", "a=max-message-size:262144",
            "a=candidate:1 1 UDP 2130706431 203.0.113.10 3478 typ host", "a=end-of-candidates"}));
  EXPECT_EQ(parse_ok(write_sdp(*offer)), *offer);
}

TEST(Sdp, LiteAnswerToChromeDataOfferText) {
  // What cellrtc-server (ICE lite, all candidates known) sends back to a viewer's offer.
  LocalParameters p = local();
  p.ice_lite = true;
  p.trickle = false;
  p.end_of_candidates = true;
  p.candidates.push_back(
      *ice::parse_candidate("candidate:1 1 UDP 2130706431 203.0.113.10 3478 "
                            "typ host"));
  SessionDescription a = answer_ok(parse_ok(corpus("chrome_data_offer")), p);
  EXPECT_EQ(
      write_sdp(a),
      join({"v=0", "o=- 4611686018427387904 2 IN IP4 127.0.0.1", "s=-", "t=0 0", "a=group:BUNDLE 0",
            "a=ice-lite", "m=application 9 UDP/DTLS/SCTP webrtc-datachannel", "c=IN IP4 0.0.0.0",
            "a=mid:0", "a=ice-ufrag:cRtc", "a=ice-pwd:Jk2mN4pQ6rS8tU0vW2xY4zA6",
            "a=fingerprint:sha-256 "
            "00:07:0E:15:1C:23:2A:31:38:3F:46:4D:54:5B:62:69:"
            "70:77:7E:85:8C:93:9A:A1:A8:AF:B6:BD:C4:CB:D2:D9",
            "a=setup:active", "a=sctp-port:5000", "a=max-message-size:262144",
            "a=candidate:1 1 UDP 2130706431 203.0.113.10 3478 typ host", "a=end-of-candidates"}));
}

TEST(Sdp, OfferAnsweredByAnotherCellrtcPeer) {
  auto offer = make_offer(local());
  ASSERT_TRUE(offer.ok());
  LocalParameters other = local();
  other.ice_ufrag = "peer";
  SessionDescription offered = parse_ok(write_sdp(*offer));
  SessionDescription a = answer_ok(offered, other);
  ASSERT_EQ(a.media.size(), 1u);
  EXPECT_EQ(a.media[0].setup, SetupRole::active);
  EXPECT_EQ(a.media[0].ice_ufrag, "peer");
  EXPECT_TRUE(a.media[0].trickle());
  EXPECT_FALSE(a.media[0].end_of_candidates);
}

SessionDescription offer_with_setup(const char* setup_line) {
  std::string text = head() + join({"m=application 9 UDP/DTLS/SCTP webrtc-datachannel",
                                    "a=ice-ufrag:abcd", "a=ice-pwd:0123456789abcdefghijkl",
                                    "a=fingerprint:sha-256 "
                                    "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:"
                                    "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF",
                                    "a=mid:0"});
  if (setup_line != nullptr) text += std::string(setup_line) + "\r\n";
  return parse_ok(text);
}

TEST(Sdp, AnswerSetupRoles) {
  // RFC 8842 section 5.3; cellrtc prefers the DTLS client role toward browsers.
  EXPECT_EQ(answer_ok(offer_with_setup("a=setup:actpass")).media[0].setup, SetupRole::active);
  LocalParameters server = local();
  server.answer_to_actpass = SetupRole::passive;
  EXPECT_EQ(answer_ok(offer_with_setup("a=setup:actpass"), server).media[0].setup,
            SetupRole::passive);
  EXPECT_EQ(answer_ok(offer_with_setup("a=setup:passive")).media[0].setup, SetupRole::active);
  EXPECT_EQ(answer_ok(offer_with_setup("a=setup:active")).media[0].setup, SetupRole::passive);
  // RFC 4145 section 4: no attribute means the offerer is active.
  EXPECT_EQ(answer_ok(offer_with_setup(nullptr)).media[0].setup, SetupRole::passive);
  auto held = make_answer(offer_with_setup("a=setup:holdconn"), local());
  ASSERT_FALSE(held.ok());
  EXPECT_EQ(held.error().code, Errc::unsupported);
}

TEST(Sdp, AnswerRejectsSecondDataSectionAndKeepsMids) {
  SessionDescription d =
      parse_ok(head() + "a=group:BUNDLE a b\r\n" + data_section("a") + data_section("b"));
  SessionDescription a = answer_ok(d);
  ASSERT_EQ(a.media.size(), 2u);
  EXPECT_EQ(a.media[0].port, 9);
  EXPECT_EQ(a.media[1].port, 0);
  EXPECT_EQ(a.media[1].mid, "b");
  EXPECT_EQ(a.bundle_group()->mids, std::vector<std::string>{"a"});
}

TEST(Sdp, AnswerErrors) {
  // No data section at all.
  auto audio_only =
      make_answer(parse_ok(head() + join({"m=audio 9 UDP/TLS/RTP/SAVPF 111", "a=mid:0"})), local());
  ASSERT_FALSE(audio_only.ok());
  EXPECT_EQ(audio_only.error().code, Errc::unsupported);
  // A data section the offerer rejected itself.
  auto rejected = make_answer(
      parse_ok(head() + join({"m=application 0 UDP/DTLS/SCTP webrtc-datachannel", "a=mid:0"})),
      local());
  ASSERT_FALSE(rejected.ok());
  // No fingerprint.
  auto no_fp =
      make_answer(parse_ok(head() + join({"m=application 9 UDP/DTLS/SCTP webrtc-datachannel",
                                          "a=ice-ufrag:abcd", "a=ice-pwd:0123456789abcdefghijkl"})),
                  local());
  ASSERT_FALSE(no_fp.ok());
  EXPECT_EQ(no_fp.error().code, Errc::malformed);
  // Our own parameters are checked.
  LocalParameters bad = local();
  bad.ice_pwd = "short";
  auto r = make_answer(offer_with_setup("a=setup:actpass"), bad);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::invalid_argument);
  bad = local();
  bad.fingerprint.value.clear();
  EXPECT_FALSE(make_offer(bad).ok());
}

// --- Malformed descriptions ---------------------------------------------------------------

TEST(SdpErrors, MissingVersionLine) {
  expect_error(join({"o=- 1 1 IN IP4 0.0.0.0", "s=-", "t=0 0"}), Errc::malformed, 1,
               "description does not start with v=");
  expect_error(join({"v=1", "o=- 1 1 IN IP4 0.0.0.0", "s=-", "t=0 0"}), Errc::unsupported, 1);
  expect_error("", Errc::truncated, 0);
}

TEST(SdpErrors, MissingOriginNameOrTime) {
  expect_error(join({"v=0", "s=-", "t=0 0"}), Errc::malformed, 0, "no o= line");
  expect_error(join({"v=0", "o=- 1 1 IN IP4 0.0.0.0", "t=0 0"}), Errc::malformed, 0);
  expect_error(join({"v=0", "o=- 1 1 IN IP4 0.0.0.0", "s=-"}) + data_section(), Errc::malformed, 4,
               "m= before the t= line");
  expect_error(join({"v=0", "o=- 1 1 IN IP4", "s=-", "t=0 0"}), Errc::malformed, 2);
  expect_error(join({"v=0", "o=- x 1 IN IP4 0.0.0.0", "s=-", "t=0 0"}), Errc::malformed, 2);
  expect_error(join({"v=0", "o=- 99999999999999999999 1 IN IP4 0.0.0.0", "s=-", "t=0 0"}),
               Errc::malformed, 2);
}

TEST(SdpErrors, BadMediaLine) {
  expect_error(head() + "m=application 9 UDP/DTLS/SCTP\r\n", Errc::malformed, 5);
  expect_error(head() + "m=application  9 UDP/DTLS/SCTP webrtc-datachannel\r\n", Errc::malformed,
               5);
  expect_error(head() + "m=application 9 UDP/DTLS/SCTP 5000\r\n", Errc::malformed, 5,
               "SCTP m= line format is not webrtc-datachannel");
  expect_error(head() + "m=application 9 DTLS/SCTP webrtc-datachannel\r\n", Errc::malformed, 5);
}

TEST(SdpErrors, BadPort) {
  expect_error(head() + "m=application 70000 UDP/DTLS/SCTP webrtc-datachannel\r\n", Errc::malformed,
               5, "m= port is not a number in 0..65535");
  expect_error(head() + "m=application x9 UDP/DTLS/SCTP webrtc-datachannel\r\n", Errc::malformed,
               5);
  expect_error(head() + "m=application -1 UDP/DTLS/SCTP webrtc-datachannel\r\n", Errc::malformed,
               5);
  // A port count is accepted and dropped.
  EXPECT_EQ(
      parse_ok(head() + "m=application 9/2 UDP/DTLS/SCTP webrtc-datachannel\r\n").media[0].port, 9);
}

TEST(SdpErrors, UnknownProto) {
  expect_error(head() + "m=application 9 UDP/FOO webrtc-datachannel\r\n", Errc::unsupported, 5,
               "m= proto is neither SCTP over DTLS nor RTP");
  expect_error(head() + "m=audio 9 RTP//AVP 0\r\n", Errc::unsupported, 5);
}

TEST(SdpErrors, Oversized) {
  std::string text = head() + data_section();
  while (text.size() <= 64 * 1024)
    text += "a=x-padding:0123456789012345678901234567890123\r\n";
  SdpError e = parse_error(text);
  EXPECT_EQ(e.code, Errc::limit_exceeded);
  EXPECT_EQ(e.line, 0u);
}

TEST(SdpErrors, TooManyLines) {
  std::string text = head() + data_section();
  for (int i = 0; i < 1100; ++i)
    text += "a=x\r\n";
  SdpLimits limits;
  limits.max_attributes_per_level = 2000;
  SdpError e = parse_error(text, limits);
  EXPECT_EQ(e.code, Errc::limit_exceeded);
  EXPECT_EQ(e.line, 1025u);
  EXPECT_STREQ(e.reason, "too many lines");
}

TEST(SdpErrors, LineTooLong) {
  std::string text = head() + "a=x:" + std::string(3000, 'y') + "\r\n";
  expect_error(text, Errc::limit_exceeded, 5);
}

TEST(SdpErrors, TooManyMediaSectionsOrCandidates) {
  std::string text = head();
  for (int i = 0; i < 17; ++i)
    text += "m=audio 0 RTP/AVP 0\r\n";
  expect_error(text, Errc::limit_exceeded, 4 + 17, "too many media sections");

  text = head() + data_section();  // ends on line 12
  for (int i = 0; i < 65; ++i) {
    text +=
        "a=candidate:1 1 UDP 2130706431 192.0.2.1 " + std::to_string(1000 + i) + " typ host\r\n";
  }
  expect_error(text, Errc::limit_exceeded, 12 + 65, "too many candidates in one media section");

  SdpLimits one;
  one.max_media_sections = 1;
  EXPECT_EQ(parse_error(head() + data_section("a") + data_section("b"), one).line, 13u);
}

TEST(SdpErrors, BadFingerprint) {
  auto with = [](const char* fp) { return head() + data_section() + fp + "\r\n"; };
  // 32 bytes but a non-hex pair.
  expect_error(with("a=fingerprint:sha-256 ZZ:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:"
                    "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF"),
               Errc::malformed, 13, "fingerprint is not hex pairs separated by ':'");
  // 31 bytes for sha-256.
  expect_error(with("a=fingerprint:sha-256 11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:"
                    "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF"),
               Errc::malformed, 13, "fingerprint length does not match its hash function");
  expect_error(with("a=fingerprint:sha-256 001122"), Errc::malformed, 13);
  expect_error(with("a=fingerprint:sha-256"), Errc::malformed, 13);
  expect_error(with("a=fingerprint:sha-256 00:11:"), Errc::malformed, 13);
  // Other hash functions are kept (RFC 8122 section 5), sha-1 with 20 bytes.
  SessionDescription d =
      parse_ok(with("a=fingerprint:sha-1 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:"
                    "00:11:22:33"));
  EXPECT_EQ(d.media[0].fingerprints.size(), 2u);
  EXPECT_NE(d.media[0].fingerprint("sha-1"), nullptr);
}

TEST(SdpErrors, BadCandidatePointsAtItsLine) {
  std::string text = head() + data_section() +
                     join({"a=candidate:1 1 UDP 2130706431 192.0.2.1 5000 typ host",
                           "a=candidate:2 1 UDP 2130706431 192.0.2.1 99999 typ host"});
  SdpError e = parse_error(text);
  EXPECT_EQ(e.line, 14u);
  EXPECT_EQ(e.code, Errc::malformed);
  EXPECT_STREQ(e.reason, "port is not a number in 0..65535");
  EXPECT_EQ(describe(e), "line 14: port is not a number in 0..65535 (malformed)");
  expect_error(head() + data_section() + "a=candidate\r\n", Errc::malformed, 13);
  expect_error(head() + data_section() + "a=candidate:1 1 SCTP 1 192.0.2.1 1 typ host\r\n",
               Errc::unsupported, 13);
}

TEST(SdpErrors, DuplicateMid) {
  expect_error(head() + data_section("x") + data_section("x"), Errc::malformed, 20,
               "duplicate mid");
  expect_error(head() + data_section("x") + "a=mid:y\r\n", Errc::malformed, 13);
  expect_error(head() + data_section("x y"), Errc::malformed, 12);
}

TEST(SdpErrors, MediaLevelAttributeAtSessionLevel) {
  for (const char* line : {"a=mid:0", "a=sctp-port:5000", "a=max-message-size:1",
                           "a=candidate:1 1 UDP 1 192.0.2.1 1 typ host", "a=rtpmap:0 PCMU/8000"}) {
    expect_error(head() + line + "\r\n" + data_section(), Errc::malformed, 5,
                 "media-level attribute before any m= line");
  }
  expect_error(head() + data_section() + "a=ice-lite\r\n", Errc::malformed, 13,
               "session-level attribute in a media section");
  expect_error(head() + data_section() + "a=group:BUNDLE 0\r\n", Errc::malformed, 13);
}

TEST(SdpErrors, GroupNamesUnknownMid) {
  expect_error(head() + "a=group:BUNDLE 0 1\r\n" + data_section("0"), Errc::malformed, 5,
               "group names an unknown mid");
}

TEST(SdpErrors, IceAndSetupAttributes) {
  expect_error(head() + data_section() + "a=ice-ufrag:efgh\r\n", Errc::malformed, 13);
  expect_error(head() + "a=ice-pwd:tooshort\r\n", Errc::malformed, 5);
  expect_error(head() + "a=ice-ufrag:ab\r\n", Errc::malformed, 5);
  expect_error(head() + "a=ice-ufrag:ab-cd\r\n", Errc::malformed, 5);
  expect_error(head() + "a=setup:both\r\n", Errc::malformed, 5);
  expect_error(head() + "a=setup:active\r\na=setup:active\r\n", Errc::malformed, 6);
  expect_error(head() + data_section() + "a=sctp-port:65536\r\n", Errc::malformed, 13);
  expect_error(head() + data_section() + "a=max-message-size:big\r\n", Errc::malformed, 13);
  expect_error(head() + "a=end-of-candidates:now\r\n", Errc::malformed, 5);
}

TEST(SdpErrors, LineSyntax) {
  expect_error(head() + "x=1\r\n", Errc::unsupported, 5, "unknown line type");
  expect_error(head() + "a\r\n", Errc::malformed, 5);
  expect_error(head() + "A=b\r\n", Errc::malformed, 5);
  expect_error(head() + "a= x\r\n", Errc::malformed, 5);
  expect_error(head() + "s=a\tb\r\n", Errc::malformed, 5);
  expect_error(head() + "s=second\r\n", Errc::malformed, 5);
  expect_error(head() + "v=0\r\n", Errc::malformed, 5);
  expect_error(head() + std::string("a=x\0y\r\n", 7), Errc::malformed, 5);
  expect_error(head() + "a=x\ry\r\n", Errc::malformed, 5);
  // Blank lines and a missing final line ending are tolerated; blank lines still count.
  EXPECT_TRUE(parse_sdp(head() + "\r\n\r\n").ok());
  EXPECT_TRUE(parse_sdp(head() + "\r\na=x\r\n\na=y\r\n").ok());
  EXPECT_TRUE(parse_sdp("\r\n" + head()).ok());
  expect_error("\r\n" + head() + "v=0\r\n", Errc::malformed, 6, "v= after the first line");
  expect_error(head() + "\n\nx=1\r\n", Errc::unsupported, 7);
  EXPECT_TRUE(parse_sdp("v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0").ok());
}

TEST(SdpErrors, UnknownAttributesAndFieldsAreKeptOrIgnored) {
  SessionDescription d = parse_ok(head() + "b=AS:30\r\na=x-session:1\r\n" + data_section() +
                                  "b=AS:500\r\na=x-media\r\n");
  ASSERT_EQ(d.attributes.size(), 1u);
  EXPECT_EQ(d.attributes[0], (Attribute{"x-session", "1", true}));
  ASSERT_EQ(d.media[0].attributes.size(), 1u);
  EXPECT_EQ(d.media[0].attributes[0], (Attribute{"x-media", "", false}));
}

TEST(SdpErrors, ResultConversionDropsTheLine) {
  auto r = parse_sdp(head() + "x=1\r\n");
  ASSERT_FALSE(r.ok());
  Result<SessionDescription> plain = to_result(std::move(r));
  ASSERT_FALSE(plain.ok());
  EXPECT_EQ(plain.error().code, Errc::unsupported);
  EXPECT_STREQ(plain.error().reason, "unknown line type");
}

}  // namespace
}  // namespace cellrtc::sdp
