// Janus (the Meetecho WebRTC server, Debian package `janus`) as a reference point for the relay
// load benchmark: a configuration directory that loads only the HTTP transport on 127.0.0.1 and
// the VideoRoom plugin with one room, and a client of Janus's HTTP API (JSON over POST, events by
// long-poll GET) with the VideoRoom requests the benchmark needs: join as publisher with an
// offer, join as subscriber to a feed (Janus then offers), start with our answer.
//
//   JanusConfig dir = JanusConfig::write(port, &error);       // janus -F dir.path() ...
//   JanusHttp api("http://127.0.0.1:" + port + "/janus");
//   auto session = api.create_session();
//   auto handle = api.attach(*session, "janus.plugin.videoroom");
//   auto joined = api.request(*session, *handle, body, jsep_offer);  // waits for the event
//
// Every request is bounded in time; errors come back as strings that say what Janus answered.
// Only loopback addresses are used.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <utility>

#include <nlohmann/json.hpp>

#include "core/common/result.h"
#include "core/common/time.h"

namespace cellrtc::bench {

// What went wrong, in words (Janus's own error text where it gave one).
struct JanusError {
  std::string message;
};
template <class T>
using JanusResult = Result<T, JanusError>;

// The room the configuration declares; publishers are limited to the one the benchmark needs.
inline constexpr uint64_t kJanusRoom = 1;

// A temporary configuration directory for `janus -F <path> -C <path>/janus.jcfg`, removed on
// destruction. Only libjanus_http.so and libjanus_videoroom.so are visible to Janus (its plugin
// and transport folders are directories of links to those two), the HTTP transport listens on
// 127.0.0.1:`http_port` only, no STUN or TURN server is set and ICE gathers on `lo` only.
class JanusConfig {
 public:
  static std::optional<JanusConfig> write(uint16_t http_port, std::string* error);
  JanusConfig(JanusConfig&& other) noexcept : path_(std::move(other.path_)) { other.path_.clear(); }
  JanusConfig& operator=(JanusConfig&& other) noexcept {
    std::swap(path_, other.path_);  // other removes what this held
    return *this;
  }
  JanusConfig(const JanusConfig&) = delete;
  ~JanusConfig();

  const std::string& path() const { return path_; }
  std::string main_file() const { return path_ + "/janus.jcfg"; }

 private:
  explicit JanusConfig(std::string path) : path_(std::move(path)) {}
  std::string path_;
};

// Janus's HTTP API on one base URL ("http://127.0.0.1:PORT/janus"). Events of all handles of a
// session arrive on one long-poll; those not yet asked for are kept until someone asks.
class JanusHttp {
 public:
  explicit JanusHttp(std::string base_url) : base_(std::move(base_url)) {}

  // GET <base>/info: the server's name and version ("Janus 1.1.2"), or why not.
  JanusResult<std::string> info();
  JanusResult<uint64_t> create_session();
  JanusResult<uint64_t> attach(uint64_t session, const std::string& plugin);
  // A plugin message (`body`, with `jsep` when given); Janus acks it and answers with an event
  // of that handle and transaction: that event (plugindata and jsep), or an error if Janus
  // reported one or nothing came within `timeout`.
  JanusResult<nlohmann::json> request(uint64_t session, uint64_t handle, const nlohmann::json& body,
                                      const std::optional<nlohmann::json>& jsep, Duration timeout);
  void destroy_session(uint64_t session);

 private:
  JanusResult<nlohmann::json> post(const std::string& url, const nlohmann::json& body,
                                   Duration timeout);
  JanusResult<nlohmann::json> get(const std::string& url, Duration timeout);
  std::string next_transaction() { return "t" + std::to_string(++transactions_); }

  std::string base_;
  uint64_t transactions_ = 0;
  std::deque<nlohmann::json> events_;  // received, not yet taken
};

}  // namespace cellrtc::bench
