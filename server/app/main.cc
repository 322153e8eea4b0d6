// roster-server: parse the configuration, start the same RosterServer the tests
// start, and drain on SIGTERM/SIGINT.
#include <signal.h>

#include <iostream>
#include <string>

#include "server/app/config.h"
#include "server/app/roster_server.h"

namespace {

// Blocks the termination signals in every thread (threads inherit the mask), so
// that only sigwait() below receives them.
sigset_t BlockTerminationSignals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  return signals;
}

void PrintDevBanner(const roster::app::ServerConfig& config, int port) {
  const std::string host = config.listen.substr(0, config.listen.rfind(':'));
  const std::string address = host + ":" + std::to_string(port);
  std::cout << "roster-server (dev) serving on " << address << " with database "
            << config.db_path << "\n";
  if (!config.http_listen.empty()) {
    std::cout << "profile images served over HTTP on " << config.http_listen
              << "\n";
  }
  if (!config.dev_secret_key_file.empty()) {
    std::cout << "secret key: " << config.dev_secret_key_file << "\n"
              << "try:\n"
              << "  grpcurl -plaintext -H \"authorization: Bearer $(cat "
              << config.dev_secret_key_file
              << ")\" -d '{\"email_addresses\":[\"ada@example.com\"]}' "
              << address << " roster.v1.BackendUsers/CreateUser\n";
  }
  std::cout.flush();
}

}  // namespace

int main(int argc, char** argv) {
  const sigset_t signals = BlockTerminationSignals();
  auto config = roster::app::LoadConfig(argc, argv);
  if (!config.ok()) {
    std::cerr << "roster-server: " << config.status().message() << "\n";
    return 2;
  }
  auto server = roster::app::RosterServer::Start(*config);
  if (!server.ok()) {
    std::cerr << "roster-server: " << server.status().message() << "\n";
    return 1;
  }
  std::cerr << "{\"level\":\"info\",\"msg\":\"serving\",\"listen\":\""
            << config->listen << "\",\"port\":" << (*server)->port()
            << ",\"http_port\":" << (*server)->http_port() << "}\n";
  if (config->dev) {
    PrintDevBanner(*config, (*server)->port());
  }
  int signal_number = 0;
  sigwait(&signals, &signal_number);
  std::cerr << "{\"level\":\"info\",\"msg\":\"draining\",\"signal\":"
            << signal_number << "}\n";
  (*server)->Shutdown(config->shutdown_grace);
  std::cerr << "{\"level\":\"info\",\"msg\":\"stopped\"}\n";
  return 0;
}
