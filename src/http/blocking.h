#pragma once
// Runs a blocking function (a store query, a RudderStack call) on a thread pool and resumes the
// calling coroutine on its own executor with the result, so HTTP threads never block. An
// exception thrown by the function is caught on the pool thread and rethrown in the coroutine,
// where the server's boundary answers 500: it never reaches std::terminate on the pool.

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <exception>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>

namespace relay::http {
namespace detail {

template <typename R, typename F>
struct BlockingTask {
  F fn;
  std::optional<R> result;
  std::exception_ptr error;
};

// A coroutine whose only parameters are a reference and a shared_ptr: the task (and the
// callable's captures) live on the heap, never in a coroutine frame or a lambda capture that a
// coroutine could outlive (C++ Core Guidelines CP.51).
template <typename R, typename F>
boost::asio::awaitable<R> AwaitTask(boost::asio::thread_pool& pool, std::shared_ptr<BlockingTask<R, F>> task) {
  namespace net = boost::asio;
  // Each piece is a named object: GCC 12 destroys non-trivial temporaries of a full-expression
  // that contains co_await twice, and a lambda capturing a shared_ptr is one.
  auto initiation = [&pool, task](auto handler) {
    auto h = std::make_shared<decltype(handler)>(std::move(handler));
    net::post(pool, [h, task] {
      try {
        task->result.emplace(task->fn());
      } catch (...) {
        task->error = std::current_exception();
      }
      auto ex = net::get_associated_executor(*h);
      net::post(ex, [h] { std::move (*h)(); });
    });
  };
  auto done = net::async_initiate<decltype(net::use_awaitable), void()>(std::move(initiation), net::use_awaitable);
  co_await std::move(done);
  if (task->error) std::rethrow_exception(task->error);
  co_return std::move(*task->result);
}

}  // namespace detail

// R need not be default-constructible. What `fn` throws is rethrown to the awaiting coroutine.
template <typename R, typename F>
boost::asio::awaitable<R> RunBlocking(boost::asio::thread_pool& pool, F&& fn) {
  using Task = detail::BlockingTask<R, std::decay_t<F>>;
  return detail::AwaitTask<R, std::decay_t<F>>(pool, std::make_shared<Task>(Task{std::forward<F>(fn), std::nullopt, nullptr}));
}

}  // namespace relay::http
