// Randomness from the kernel's CSPRNG, for everything that must not be guessed: ICE
// credentials, STUN transaction ids, DTLS randoms, SCTP verification tags.
#pragma once

#include "core/common/random.h"

namespace cellrtc::runtime {

class OsRandom final : public Random {
 public:
  // Fills `out` from getrandom(2), falling back to /dev/urandom where the syscall is missing.
  // Aborts if neither works: Random::fill cannot report failure, and carrying on with
  // predictable bytes would silently break the security of everything built on them.
  void fill(std::span<uint8_t> out) override;
};

}  // namespace cellrtc::runtime
