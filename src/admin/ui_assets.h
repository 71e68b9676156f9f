#pragma once
// The status page's files (ui/ in the source tree), embedded in the binary by the build
// (cmake/embed_ui.cmake): nothing is fetched from elsewhere at run time.

#include <string_view>
#include <vector>

namespace relay::admin {

struct UiAsset {
  std::string_view name;   // "index.html", "app.js", …
  std::string_view bytes;
};

// Every embedded file, in a fixed order.
const std::vector<UiAsset>& UiAssets();

}  // namespace relay::admin
