// Loopback servers for tests: cpp-httplib serving on a free port of 127.0.0.1 from its own
// thread, and free_port for a port that nobody listens on (or that a child process may take).
//
//   testing_support::LocalHttpServer server([](httplib::Server& s) {
//     s.Get("/hello", [](const httplib::Request&, httplib::Response& res) { res.set_content("hi", "text/plain"); });
//   });
//   client.send({.url = server.url("/hello")});
#pragma once

#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>

#include "support/poll.h"

namespace sentiflow::testing_support {

// A TCP port of 127.0.0.1 that was free a moment ago (the kernel's choice for port 0).
inline int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address));
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  const int port = ntohs(address.sin_port);
  ::close(fd);
  return port;
}

// An httplib::Server on a free port of 127.0.0.1, serving from its own thread from construction
// until stop() or destruction, with TCP_NODELAY on. `routes` installs the handlers and settings
// (thread pool, keep-alive, ...) before the server binds. The handlers run on the server's threads: what they
// touch must outlive this object or be safe to share, so declare a LocalHttpServer member after
// the members its handlers use (it is then destroyed, and its threads joined, first).
// Failure: std::runtime_error when 127.0.0.1 cannot be bound or the server does not run within 10 s.
// Not copyable or movable; port() and url() are safe from any thread.
class LocalHttpServer {
 public:
  explicit LocalHttpServer(const std::function<void(httplib::Server&)>& routes) {
    // Headers and body leave in two writes: without this, Nagle's algorithm holds the second
    // until the client's delayed ACK, 40 ms per response.
    server_.set_tcp_nodelay(true);
    routes(server_);
    port_ = server_.bind_to_any_port("127.0.0.1");
    if (port_ <= 0) throw std::runtime_error("a test HTTP server cannot bind 127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    if (!poll_until([this] { return server_.is_running(); }, std::chrono::seconds(10), std::chrono::milliseconds(1))) {
      stop();
      throw std::runtime_error("a test HTTP server did not start within 10 s");
    }
  }
  ~LocalHttpServer() { stop(); }
  LocalHttpServer(const LocalHttpServer&) = delete;
  LocalHttpServer& operator=(const LocalHttpServer&) = delete;

  // Stops serving and joins the serving thread; later requests are refused. Idempotent.
  void stop() {
    server_.stop();
    if (thread_.joinable()) thread_.join();
  }

  int port() const { return port_; }
  // "http://127.0.0.1:<port>" followed by `path`.
  std::string url(std::string_view path = "") const {
    return "http://127.0.0.1:" + std::to_string(port_) + std::string(path);
  }

 private:
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
};

}  // namespace sentiflow::testing_support
