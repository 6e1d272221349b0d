// write_sdp: the canonical text of a session description. Lines follow the order of RFC 8866
// section 5 and end in CRLF; attributes come in a fixed order (JSEP, RFC 8829 section 5.2.1,
// writes them in about the same order).
#include <algorithm>

#include "core/sdp/session_description.h"

namespace cellrtc::sdp {
namespace {

class Writer {
 public:
  void line(char type, std::string_view value) {
    out_ += type;
    out_ += '=';
    out_ += value;
    out_ += "\r\n";
  }
  void attribute(std::string_view name) {
    out_ += "a=";
    out_ += name;
    out_ += "\r\n";
  }
  void attribute(std::string_view name, std::string_view value) {
    out_ += "a=";
    out_ += name;
    out_ += ':';
    out_ += value;
    out_ += "\r\n";
  }
  void connection(const Connection& c) {
    line('c', c.net_type + ' ' + c.address_type + ' ' + c.address);
  }
  void ice_options(const std::vector<std::string>& options) {
    if (options.empty()) return;
    std::string v;
    for (const std::string& o : options) {
      if (!v.empty()) v += ' ';
      v += o;
    }
    attribute("ice-options", v);
  }
  void fingerprints(const std::vector<Fingerprint>& list) {
    for (const Fingerprint& fp : list) {
      attribute("fingerprint", format_fingerprint(fp));
    }
  }
  void kept(const std::vector<Attribute>& list) {
    for (const Attribute& a : list) {
      if (a.has_value) {
        attribute(a.name, a.value);
      } else {
        attribute(a.name);
      }
    }
  }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

const char* proto_name(const MediaSection& m) {
  switch (m.proto) {
    case Proto::udp_dtls_sctp:
      return "UDP/DTLS/SCTP";
    case Proto::tcp_dtls_sctp:
      return "TCP/DTLS/SCTP";
    case Proto::dtls_sctp:
      return "DTLS/SCTP";
    case Proto::rtp:
      break;
  }
  return nullptr;
}

}  // namespace

const char* to_string(SetupRole role) {
  switch (role) {
    case SetupRole::actpass:
      return "actpass";
    case SetupRole::active:
      return "active";
    case SetupRole::passive:
      return "passive";
    case SetupRole::holdconn:
      return "holdconn";
  }
  return "actpass";
}

const char* to_string(MediaKind kind) {
  switch (kind) {
    case MediaKind::application:
      return "application";
    case MediaKind::audio:
      return "audio";
    case MediaKind::video:
      return "video";
    case MediaKind::other:
      return "other";
  }
  return "other";
}

std::string format_fingerprint_value(ByteView digest) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(digest.size() * 3);
  for (size_t i = 0; i < digest.size(); ++i) {
    if (i != 0) out += ':';
    out += kHex[digest[i] >> 4];
    out += kHex[digest[i] & 0x0F];
  }
  return out;
}

std::string format_fingerprint(const Fingerprint& fingerprint) {
  return fingerprint.algorithm + ' ' + format_fingerprint_value(fingerprint.value);
}

bool MediaSection::trickle() const {
  return std::find(ice_options.begin(), ice_options.end(), "trickle") != ice_options.end();
}

const Fingerprint* MediaSection::fingerprint(std::string_view algorithm) const {
  for (const Fingerprint& fp : fingerprints) {
    if (fp.algorithm == algorithm) return &fp;
  }
  return nullptr;
}

const Group* SessionDescription::bundle_group() const {
  for (const Group& g : groups) {
    if (g.semantics == "BUNDLE") return &g;
  }
  return nullptr;
}

const MediaSection* SessionDescription::data_section() const {
  for (const MediaSection& m : media) {
    if (m.is_data_channel() && !m.rejected()) return &m;
  }
  return nullptr;
}

MediaSection* SessionDescription::data_section() {
  const auto* self = this;
  return const_cast<MediaSection*>(self->data_section());
}

std::string write_sdp(const SessionDescription& d) {
  Writer w;
  const Origin& o = d.origin;
  w.line('v', "0");
  w.line('o', o.username + ' ' + std::to_string(o.session_id) + ' ' +
                  std::to_string(o.session_version) + ' ' + o.net_type + ' ' + o.address_type +
                  ' ' + o.address);
  w.line('s', d.session_name);
  if (d.connection) w.connection(*d.connection);
  w.line('t', std::to_string(d.start_time) + ' ' + std::to_string(d.stop_time));

  for (const Group& g : d.groups) {
    std::string v = g.semantics;
    for (const std::string& mid : g.mids)
      v += ' ' + mid;
    w.attribute("group", v);
  }
  if (d.extmap_allow_mixed) w.attribute("extmap-allow-mixed");
  if (d.msid_semantic) w.attribute("msid-semantic", *d.msid_semantic);
  if (d.ice_lite) w.attribute("ice-lite");
  if (d.ice_ufrag) w.attribute("ice-ufrag", *d.ice_ufrag);
  if (d.ice_pwd) w.attribute("ice-pwd", *d.ice_pwd);
  w.ice_options(d.ice_options);
  w.fingerprints(d.fingerprints);
  if (d.setup) w.attribute("setup", to_string(*d.setup));
  if (d.end_of_candidates) w.attribute("end-of-candidates");
  w.kept(d.attributes);

  for (const MediaSection& m : d.media) {
    const char* proto = proto_name(m);
    std::string mline = m.media + ' ' + std::to_string(m.port) + ' ' +
                        (proto != nullptr ? std::string(proto) : m.proto_text);
    for (const std::string& f : m.formats)
      mline += ' ' + f;
    w.line('m', mline);
    if (m.connection) w.connection(*m.connection);
    if (!m.mid.empty()) w.attribute("mid", m.mid);
    // Values equal to the session level's are inherited, not repeated.
    if (m.ice_ufrag && m.ice_ufrag != d.ice_ufrag) w.attribute("ice-ufrag", *m.ice_ufrag);
    if (m.ice_pwd && m.ice_pwd != d.ice_pwd) w.attribute("ice-pwd", *m.ice_pwd);
    if (m.ice_options != d.ice_options) w.ice_options(m.ice_options);
    if (m.fingerprints != d.fingerprints) w.fingerprints(m.fingerprints);
    if (m.setup && m.setup != d.setup) w.attribute("setup", to_string(*m.setup));
    // RFC 8841 section 5: the pre-RFC form carries the SCTP port as its m= line format.
    if (m.sctp_port && m.proto != Proto::dtls_sctp) {
      w.attribute("sctp-port", std::to_string(*m.sctp_port));
    }
    if (m.max_message_size) {
      w.attribute("max-message-size", std::to_string(*m.max_message_size));
    }
    w.kept(m.attributes);
    for (const ice::Candidate& c : m.candidates) {
      w.attribute("candidate", ice::format_candidate(c).substr(sizeof("candidate:") - 1));
    }
    if (m.end_of_candidates && !d.end_of_candidates) w.attribute("end-of-candidates");
  }
  return w.take();
}

}  // namespace cellrtc::sdp
