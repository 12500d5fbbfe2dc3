#include "corio/core/detail/frame_pool.hpp"

namespace corio::detail {

namespace {

/// Empties the thread's frame cache when the thread exits. Frames freed after that (by later
/// thread_local destructors) go straight back to malloc.
struct frame_cache_drain {
    bool touched = false;
    ~frame_cache_drain() {
        frame_cache& fc = t_frame_cache;
        fc.draining = true;
        for (std::size_t c = 0; c < frame_cache::classes; ++c) {
            while (frame_cache::block* b = fc.heads[c]) {
                fc.heads[c] = b->next;
                ::operator delete(b);
            }
            fc.counts[c] = 0;
        }
    }
};

thread_local frame_cache_drain t_drain;

} // namespace

void frame_cache_register_drain() noexcept {
    // Touching the thread_local constructs it, which registers its destructor for this thread.
    t_drain.touched = true;
    t_frame_cache.registered = true;
}

} // namespace corio::detail
