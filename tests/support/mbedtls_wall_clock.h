// Virtual wall-clock time for mbedTLS in simulations. Debian's mbedTLS 2.28 is built without
// MBEDTLS_PLATFORM_TIME_ALT, so it has no time hook: it calls the C library's time() for the
// gmt_unix_time in the first 4 bytes of the ClientHello and ServerHello randoms (RFC 5246
// section 7.4.1.2) and for the peer certificate's validity (whose flags DtlsTransport::verify
// discards: the fingerprint is the trust, RFC 8827 section 6.5). Everything else a handshake
// sends comes from the Random and the `now` DtlsTransport is given. The randoms enter the keys,
// so one second of wall clock changes every datagram after the hellos. While a
// MbedtlsWallClock is active, time() (defined in mbedtls_wall_clock.cpp, which the binary that
// uses this links, so the libraries' calls bind to it) answers from the simulator's clock, and
// a simulated handshake is the same bytes in every run.
#pragma once

#include <cstdint>
#include <functional>

#include "core/common/time.h"

namespace cellrtc::testing {

class MbedtlsWallClock {
 public:
  // `now` reads the virtual clock; `origin` is the virtual instant shown as `epoch_seconds`.
  MbedtlsWallClock(std::function<Instant()> now, Instant origin,
                   int64_t epoch_seconds = 1'767'225'600);  // 2026-01-01T00:00:00Z
  ~MbedtlsWallClock();
  MbedtlsWallClock(const MbedtlsWallClock&) = delete;
  MbedtlsWallClock& operator=(const MbedtlsWallClock&) = delete;

  // Seconds since the Unix epoch, as time() reports them while this clock is active.
  int64_t unix_seconds() const;

  static const MbedtlsWallClock* active();

 private:
  std::function<Instant()> now_;
  Instant origin_;
  int64_t epoch_seconds_;
};

}  // namespace cellrtc::testing
