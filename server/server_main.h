#pragma once

// cellrtc-server as a whole: the relay, its media plane and the HTTP front end on one
// io_context, started from a configuration and run until SIGTERM or SIGINT.

#include <cstdio>
#include <string>
#include <vector>

#include "server/config.h"
#include "server/log.h"

namespace cellrtc::server {

// Exit codes of the executable.
inline constexpr int kExitOk = 0;
inline constexpr int kExitCannotStart = 1;  // a port in use, a socket error
inline constexpr int kExitBadConfig = 2;    // a bad option, file or certificate

// The command line, environment and file to a configuration; --help, or an error printed to
// `err`. Returns the exit code when the program should end now, -1 to run `config`.
int load_server_config(const std::vector<std::string>& args, ServerConfig& config, std::FILE* out,
                       std::FILE* err);

// Runs the server: prints the startup lines to `out` (see config_help()), logs to `log`, and
// returns the exit code once stopped by SIGTERM/SIGINT (0) or when it cannot start.
int run_server(ServerConfig config, Logger& log, std::FILE* out);

}  // namespace cellrtc::server
