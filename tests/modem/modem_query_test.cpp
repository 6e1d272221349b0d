// The Linux telemetry query against the simulated modem on a real pseudo-terminal, in real
// time (the simulator runs on a thread, as cellrtc-modem-sim does); bounded to a few seconds.
#include "modem/linux/modem_query.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "tools/modem-sim/pty.h"
#include "tools/modem-sim/sim_modem.h"

namespace cellrtc::modem::posix {
namespace {

Instant steady_now() {
  const auto t = std::chrono::steady_clock::now().time_since_epoch();
  return Instant::from_us(std::chrono::duration_cast<std::chrono::microseconds>(t).count());
}

class SimOnPty {
 public:
  explicit SimOnPty(modemsim::Scenario sc) : sim_(std::move(sc)) {
    std::string error;
    pty_ = modemsim::Pty::open(false, &error);
    if (!pty_) return;
    sim_.start(steady_now());
    thread_ = std::thread([this] { loop(); });
  }
  ~SimOnPty() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  std::string path() const { return pty_ ? pty_->slave_path() : ""; }

 private:
  void loop() {
    uint8_t buf[1024];
    while (!stop_) {
      sim_.handle_timeout(steady_now());
      while (auto out = sim_.poll_transmit())
        (void)!::write(pty_->master(), out->data(), out->size());
      pollfd p{pty_->master(), POLLIN, 0};
      if (::poll(&p, 1, 5) > 0 && (p.revents & POLLIN)) {
        const ssize_t n = ::read(pty_->master(), buf, sizeof(buf));
        if (n > 0) sim_.handle_bytes(steady_now(), ByteView(buf, static_cast<size_t>(n)));
      }
    }
  }
  modemsim::SimModem sim_;
  std::optional<modemsim::Pty> pty_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

TEST(ModemQueryTest, ReportsSignalOperatorAndTechnologyOverAPty) {
  auto sc = *modemsim::scenario_by_name("lte_fallback");
  sc.registration_delay = Duration{0};
  SimOnPty sim(sc);
  ASSERT_FALSE(sim.path().empty());
  auto port = SerialPort::open(sim.path(), 115200);
  ASSERT_TRUE(port.ok()) << port.error().reason;
  auto report = query_modem(*port, seconds(5));
  ASSERT_TRUE(report.ok()) << report.error().reason;
  EXPECT_EQ(report->model, "A7670E-LASE");
  EXPECT_EQ(report->sim, a76xx::SimState::ready);
  ASSERT_TRUE(report->signal);
  EXPECT_EQ(report->signal->dbm, -73);
  ASSERT_TRUE(report->op);
  EXPECT_EQ(report->op->name, "20205");
  EXPECT_EQ(report->technology, "EDGE");
  EXPECT_EQ(report->registration, a76xx::RegStatus::home);
  EXPECT_EQ(to_json(*report),
            "{\"model\":\"A7670E-LASE\",\"sim\":\"ready\",\"signal_dbm\":-73,\"bars\":4,"
            "\"operator\":\"20205\",\"technology\":\"EDGE\",\"registration\":\"registered "
            "(home)\"}");
}

TEST(ModemQueryTest, SilentModemTimesOut) {
  auto sc = *modemsim::scenario_by_name("powered_off");
  SimOnPty sim(sc);
  auto port = SerialPort::open(sim.path(), 115200);
  ASSERT_TRUE(port.ok());
  const auto start = std::chrono::steady_clock::now();
  auto report = query_modem(*port, milliseconds(1500));
  EXPECT_FALSE(report.ok());
  EXPECT_EQ(report.error().code, Errc::timeout);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3));
}

TEST(ModemQueryTest, MissingPortIsAnError) {
  auto port = SerialPort::open("/nonexistent/ttyUSB9", 115200);
  EXPECT_FALSE(port.ok());
}

}  // namespace
}  // namespace cellrtc::modem::posix
