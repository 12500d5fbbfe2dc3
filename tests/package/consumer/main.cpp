// Packaging check: builds against corio as a consumer would and runs one task.
#include <corio/corio.hpp>

#include <cstdio>

namespace {

corio::task<int> answer() {
    co_return 42;
}

} // namespace

int main() {
    int const value = corio::run(answer());
    if (value != 42) {
        std::fprintf(stderr, "consumer: expected 42, got %d\n", value);
        return 1;
    }
    std::puts("consumer: ok");
    return 0;
}
