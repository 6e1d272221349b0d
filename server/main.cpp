// cellrtc-server: see `cellrtc-server --help` and docs/deploy.md.

#include <cstdio>
#include <string>
#include <vector>

#include "server/log.h"
#include "server/server_main.h"

int main(int argc, char** argv) {
  using namespace cellrtc::server;
  std::vector<std::string> args(argv + 1, argv + argc);
  ServerConfig config;
  if (int code = load_server_config(args, config, stdout, stderr); code >= 0) return code;
  Logger log(*parse_log_level(config.log_level), config.log_json, stderr);
  return run_server(std::move(config), log, stdout);
}
