#pragma once
// Runs a blocking function (a store query, a RudderStack call) on a thread pool and resumes the
// calling coroutine on its own executor with the result, so HTTP threads never block.

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
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
      task->result.emplace(task->fn());
      auto ex = net::get_associated_executor(*h);
      net::post(ex, [h] { std::move (*h)(); });
    });
  };
  auto done = net::async_initiate<decltype(net::use_awaitable), void()>(std::move(initiation), net::use_awaitable);
  co_await std::move(done);
  co_return std::move(*task->result);
}

}  // namespace detail

// `fn` must not throw. R need not be default-constructible.
template <typename R, typename F>
boost::asio::awaitable<R> RunBlocking(boost::asio::thread_pool& pool, F&& fn) {
  using Task = detail::BlockingTask<R, std::decay_t<F>>;
  return detail::AwaitTask<R, std::decay_t<F>>(pool, std::make_shared<Task>(Task{std::forward<F>(fn), std::nullopt}));
}

}  // namespace relay::http
