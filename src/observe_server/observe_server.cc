#include "observe_server/observe_server.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <httplib.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <functional>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "core/error.h"
#include "core/strings.h"
#include "observe/log.h"

namespace sentiflow {

namespace {

constexpr std::string_view kDataMarker = R"(<script id="sentiflow-data" type="application/json">null</script>)";

// The page may run inline script and style and talk to this server only: a browser enforces
// that the dashboard stays self-contained, whatever a later edit of the page adds.
constexpr const char* kContentSecurityPolicy =
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; "
    "img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

// A few threads are plenty for a browser tab and a Prometheus scraper; httplib's default is one
// per core, which a many-core host running the pipeline would rather keep.
constexpr size_t kServerThreads = 8;
// Accepted connections waiting for a thread. Beyond them the accept loop waits, so further
// clients wait in the kernel's listen queue and hold no descriptor of this process: idle or
// slow clients, however many, cannot take the descriptors the sink and the queue need (issue
// 14, fault 5).
constexpr size_t kMaxQueuedConnections = 32;
// How long a connection may take to send each part of its request (and to read the answer)
// before its thread drops it: an idle or slow client holds a thread at most this long.
constexpr time_t kIoTimeoutSeconds = 2;

// httplib's ThreadPool with a bound on the connections it holds: enqueue() waits while
// kMaxQueuedConnections wait (the accept loop's caller, one thread), shutdown() runs what is
// queued (each job closes its socket) and joins. Thread-safe.
class BoundedPool final : public httplib::TaskQueue {
 public:
  BoundedPool(size_t threads, size_t max_queued) : max_queued_(max_queued) {
    for (size_t i = 0; i < threads; ++i) threads_.emplace_back([this] { work(); });
  }
  ~BoundedPool() override = default;

  void enqueue(std::function<void()> fn) override {
    std::unique_lock lock(mutex_);
    room_.wait(lock, [this] { return jobs_.size() < max_queued_ || shutdown_; });
    jobs_.push_back(std::move(fn));
    work_.notify_one();
  }

  void shutdown() override {
    {
      std::lock_guard lock(mutex_);
      shutdown_ = true;
    }
    work_.notify_all();
    room_.notify_all();
    for (auto& t : threads_) t.join();
  }

 private:
  void work() {
    while (true) {
      std::function<void()> fn;
      {
        std::unique_lock lock(mutex_);
        work_.wait(lock, [this] { return !jobs_.empty() || shutdown_; });
        if (jobs_.empty()) return;  // shut down and nothing left
        fn = std::move(jobs_.front());
        jobs_.pop_front();
      }
      room_.notify_one();
      fn();
    }
  }

  const size_t max_queued_;
  std::mutex mutex_;
  std::condition_variable work_;
  std::condition_variable room_;
  std::deque<std::function<void()>> jobs_;
  bool shutdown_ = false;
  std::vector<std::thread> threads_;
};

// localhost, 127.0.0.0/8 and ::1: addresses only this machine can reach.
bool is_loopback(const std::string& host) {
  if (to_lower_ascii(host) == "localhost") return true;
  in_addr v4{};
  if (::inet_pton(AF_INET, host.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6{};
  if (::inet_pton(AF_INET6, host.c_str(), &v6) == 1) return IN6_IS_ADDR_LOOPBACK(&v6);
  return false;
}

// The Host headers a browser sends for a server bound to a loopback `host` on `port` (lower
// case; without the port too where it is HTTP's default). A page of another site whose name
// an attacker made resolve to 127.0.0.1 (DNS rebinding) sends its own name instead.
std::vector<std::string> loopback_host_names(const std::string& host, uint16_t port) {
  std::vector<std::string> names;
  const std::string bound = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  for (const std::string& name : {std::string("127.0.0.1"), std::string("localhost"), std::string("[::1]"), bound}) {
    names.push_back(to_lower_ascii(name) + ":" + std::to_string(port));
    if (port == 80) names.push_back(to_lower_ascii(name));
  }
  return names;
}

// Why binding failed, in words a user can act on. `bind_errno` is errno right after the failed
// bind (httplib reports only false); the host is resolved again to tell a bad name apart.
std::string bind_failure_reason(const ListenAddress& address, int bind_errno) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* found = nullptr;
  const int rc = ::getaddrinfo(address.host.c_str(), nullptr, &hints, &found);
  if (found != nullptr) ::freeaddrinfo(found);
  if (rc != 0) return fmt::format("unknown host {} ({})", address.host, ::gai_strerror(rc));
  switch (bind_errno) {
    case EADDRINUSE: return "the port is in use (another sentiflow run, or another server?)";
    case EADDRNOTAVAIL: return fmt::format("{} is not an address of this machine", address.host);
    case EACCES: return "permission denied (ports below 1024 need privileges)";
    case 0: return "the address cannot be bound";
    default: return std::strerror(bind_errno);
  }
}

// Text a JSON document can sit in inside <script>: '<', '>' and '&' occur only inside JSON
// strings, where their \u escapes mean the same, so no "</script>" can close the element early.
std::string script_safe_json(const nlohmann::json& data) {
  const std::string text = data.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == '<')
      out += "\\u003c";
    else if (c == '>')
      out += "\\u003e";
    else if (c == '&')
      out += "\\u0026";
    else
      out += c;
  }
  return out;
}

}  // namespace

// Fifteen members in three groups: what the constructor was given, the server's life (the
// httplib server, its thread and start_mutex, the bound port, readiness, the accepted hosts),
// and the live points with their numbering. The request handlers reach all three through
// `this`, so they stay one struct.
struct ObserveServer::Impl {
  ListenAddress address;
  Metrics& metrics;
  StatusProvider status;

  httplib::Server server;
  std::thread thread;
  std::atomic<bool> loop_done{false};
  std::atomic<uint16_t> bound_port{0};
  std::atomic<bool> ready{false};
  std::mutex start_mutex;  // start() and stop() against each other
  // The Host headers accepted, when bound to a loopback address (empty: any). Set by start()
  // before the server's threads exist, read-only after.
  std::vector<std::string> allowed_hosts;

  // Points are kept as JSON text: each is serialised once, not once per request.
  std::mutex points_mutex;
  std::deque<std::string> points;
  uint64_t last_seq = 0;  // the number of the newest point; points are numbered from 1
  std::string last_t;     // the newest point's "t"
  // When this server started (ms since the epoch): a dashboard that sees it change knows its
  // point numbers belong to another server's life.
  int64_t boot_ms = 0;

  Impl(ListenAddress a, Metrics& m, StatusProvider s) : address(std::move(a)), metrics(m), status(std::move(s)) {}

  void route() {
    server.new_task_queue = [] { return new BoundedPool(kServerThreads, kMaxQueuedConnections); };
    server.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
      if (!host_allowed(req)) {
        res.status = 421;
        res.set_content("misdirected request: this server answers only to its own address\n",
                        "text/plain; charset=utf-8");
        return httplib::Server::HandlerResponse::Handled;
      }
      if (req.method == "GET" || req.method == "HEAD") return httplib::Server::HandlerResponse::Unhandled;
      res.status = 405;
      res.set_header("Allow", "GET, HEAD");
      res.set_content("method not allowed\n", "text/plain; charset=utf-8");
      return httplib::Server::HandlerResponse::Handled;
    });
    // Statuses without a body of their own (a 404 from the router) get a line of text.
    server.set_error_handler(httplib::Server::HandlerWithResponse([](const httplib::Request&, httplib::Response& res) {
      if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
      res.set_content(res.status == 404 ? "not found\n" : fmt::format("error {}\n", res.status),
                      "text/plain; charset=utf-8");
      return httplib::Server::HandlerResponse::Handled;
    }));
    server.set_logger([](const httplib::Request& req, const httplib::Response& res) {
      log::debug("http request", {{"method", req.method}, {"path", req.path}, {"status", res.status}});
    });

    server.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
      res.set_content(metrics.prometheus_text(), "text/plain; version=0.0.4; charset=utf-8");
    });
    server.Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
      res.set_header("Cache-Control", "no-store");
      res.set_content("ok\n", "text/plain; charset=utf-8");
    });
    server.Get("/readyz", [this](const httplib::Request&, httplib::Response& res) {
      const bool is_ready = ready.load();
      res.status = is_ready ? 200 : 503;
      res.set_header("Cache-Control", "no-store");
      res.set_content(is_ready ? "ready\n" : "not ready\n", "text/plain; charset=utf-8");
    });
    server.Get("/api/live", [this](const httplib::Request& req, httplib::Response& res) { live(req, res); });
    server.Get("/", [](const httplib::Request&, httplib::Response& res) {
      res.set_header("Cache-Control", "no-cache");
      res.set_header("Content-Security-Policy", kContentSecurityPolicy);
      res.set_header("X-Content-Type-Options", "nosniff");
      res.set_content(std::string(dashboard_html()), "text/html; charset=utf-8");
    });
  }

  bool host_allowed(const httplib::Request& req) const {
    if (allowed_hosts.empty()) return true;
    const std::string host = to_lower_ascii(req.get_header_value("Host"));
    return std::find(allowed_hosts.begin(), allowed_hosts.end(), host) != allowed_hosts.end();
  }

  void live(const httplib::Request& req, httplib::Response& res) {
    res.set_header("Cache-Control", "no-store");
    std::optional<uint64_t> since;
    if (req.has_param("since")) {
      const std::string text = req.get_param_value("since");
      uint64_t n = 0;
      const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
      if (ec != std::errc() || end != text.data() + text.size() || text.empty()) {
        res.status = 400;
        res.set_content("since must be a point number\n", "text/plain; charset=utf-8");
        return;
      }
      since = n;
    }
    nlohmann::json state;
    try {
      state = status ? status() : nlohmann::json::object();
    } catch (const std::exception& e) {
      res.status = 500;
      res.set_content(
          nlohmann::json{{"error", e.what()}}.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
          "application/json");
      return;
    }
    std::string body = "{\"boot\":" + std::to_string(boot_ms) + ",\"seq\":";
    {
      std::lock_guard lock(points_mutex);
      const uint64_t first_seq = last_seq - points.size() + 1;
      // A `since` from before the window or from another server's life gives all points.
      size_t skip = 0;
      if (since && *since <= last_seq && *since + 1 >= first_seq) skip = static_cast<size_t>(*since + 1 - first_seq);
      body += std::to_string(last_seq);
      body += ",\"points\":[";
      for (size_t i = skip; i < points.size(); ++i) {
        if (i > skip) body += ',';
        body += points[i];
      }
    }
    body += "],\"status\":";
    body += state.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    body += '}';
    res.set_content(std::move(body), "application/json");
  }
};

ObserveServer::ObserveServer(ListenAddress address, Metrics& metrics, StatusProvider status)
    : impl_(std::make_unique<Impl>(std::move(address), metrics, std::move(status))) {
  impl_->route();
}

ObserveServer::~ObserveServer() { stop(); }

void ObserveServer::start() {
  std::lock_guard lock(impl_->start_mutex);
  if (impl_->thread.joinable() || impl_->bound_port != 0)
    throw Error(ErrorCode::internal, "the metrics server is already started");
  auto& server = impl_->server;
  const ListenAddress& address = impl_->address;
  server.set_tcp_nodelay(true);
  // One request per connection: an idle kept-alive connection would hold a server thread, and
  // stop() would wait for it to time out. A new local connection a second costs nothing. The
  // timeout bounds how long a connection that sends nothing holds its thread.
  server.set_keep_alive_max_count(1);
  server.set_keep_alive_timeout(kIoTimeoutSeconds);
  server.set_read_timeout(kIoTimeoutSeconds, 0);
  server.set_write_timeout(kIoTimeoutSeconds, 0);
  server.set_payload_max_length(64 * 1024);  // it takes GET and HEAD only
  // SO_REUSEADDR (a restarted run rebinds past TIME_WAIT), not httplib's default SO_REUSEPORT:
  // with that, a second process would share the port silently and get half the scrapes.
  server.set_socket_options([](socket_t sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
  errno = 0;
  int port = -1;
  if (address.port == 0)
    port = server.bind_to_any_port(address.host);
  else if (server.bind_to_port(address.host, address.port))
    port = address.port;
  if (port <= 0) {
    const int bind_errno = errno;
    throw invalid_input(fmt::format("cannot serve metrics on {}: {} (observe.listen or --listen)", address.text(),
                                    bind_failure_reason(address, bind_errno)));
  }
  impl_->bound_port = static_cast<uint16_t>(port);
  if (is_loopback(address.host)) impl_->allowed_hosts = loopback_host_names(address.host, impl_->bound_port);
  impl_->boot_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
  impl_->thread = std::thread([impl = impl_.get()] {
    impl->server.listen_after_bind();
    impl->loop_done = true;
  });
  log::info("serving metrics and the dashboard", {{"url", url()}});
  if (!is_loopback(address.host))
    log::warn("the metrics server and the dashboard are reachable from other machines", {{"listen", address.text()}});
}

void ObserveServer::stop() {
  std::lock_guard lock(impl_->start_mutex);
  if (!impl_->thread.joinable()) return;
  // httplib's stop() does nothing before its accept loop runs, and the loop would then run
  // for ever: wait for the loop (it starts at once) before stopping it.
  while (!impl_->server.is_running() && !impl_->loop_done) std::this_thread::yield();
  impl_->server.stop();
  impl_->thread.join();
}

uint16_t ObserveServer::port() const { return impl_->bound_port; }

std::string ObserveServer::url() const {
  const std::string& host = impl_->address.host;
  return host.find(':') != std::string::npos ? fmt::format("http://[{}]:{}/", host, port())
                                             : fmt::format("http://{}:{}/", host, port());
}

void ObserveServer::add_point(nlohmann::json point) {
  std::string t;
  if (const auto at = point.find("t"); at != point.end() && at->is_string()) t = at->get<std::string>();
  std::string text = point.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  std::lock_guard lock(impl_->points_mutex);
  // The runner's final point of a run often falls in the second of the last regular one.
  if (!t.empty() && t == impl_->last_t && !impl_->points.empty()) {
    impl_->points.back() = std::move(text);
    return;
  }
  impl_->last_t = std::move(t);
  impl_->points.push_back(std::move(text));
  ++impl_->last_seq;
  while (impl_->points.size() > max_points) impl_->points.pop_front();
}

void ObserveServer::set_ready(bool ready) { impl_->ready = ready; }

std::string static_dashboard(const nlohmann::json& data) {
  std::string page(dashboard_html());
  const size_t at = page.find(kDataMarker);
  if (at == std::string::npos) throw Error(ErrorCode::internal, "the dashboard page has no sentiflow-data element");
  const size_t null_at = at + kDataMarker.find(">null<") + 1;
  page.replace(null_at, 4, script_safe_json(data));
  return page;
}

}  // namespace sentiflow
