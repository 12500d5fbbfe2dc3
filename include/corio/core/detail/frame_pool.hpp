#pragma once

#include <cstddef>
#include <cstdint>
#include <new>

namespace corio::detail {

/// A per-thread cache of freed coroutine frames, by size class.
///
/// Every task is a coroutine frame, and frames of the same coroutine have the same size, so a
/// freed frame is almost always the right size for the next one: reusing it skips malloc and
/// free, about half the cost of creating and finishing a task. Each class keeps at most
/// `max_cached` frames, so a burst of a million tasks gives its memory back to malloc.
///
/// Sanitizer builds bypass the cache so that ASan still sees every use after free.
struct frame_cache {
    static constexpr std::size_t granule = 16;
    static constexpr std::size_t classes = 64; // frames up to 1 KiB are cached
    static constexpr std::uint32_t max_cached = 1024;

    struct block {
        block* next;
    };
    // Trivial, so that the thread_local below needs no guard and is never destroyed: frames
    // freed by other thread_local destructors at thread exit still find it in a valid state.
    block* heads[classes];
    std::uint32_t counts[classes];
    bool registered; // the thread-exit drain is registered
    bool draining;   // set once the thread's cache has been emptied at thread exit
};

inline constinit thread_local frame_cache t_frame_cache{};

/// Registers the thread-exit drain of t_frame_cache (once per thread).
void frame_cache_register_drain() noexcept;

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define CORIO_FRAME_CACHE 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define CORIO_FRAME_CACHE 0
#endif
#endif
#ifndef CORIO_FRAME_CACHE
#define CORIO_FRAME_CACHE 1
#endif

inline void* frame_allocate(std::size_t n) {
#if CORIO_FRAME_CACHE
    const std::size_t c = (n + frame_cache::granule - 1) / frame_cache::granule;
    if (c < frame_cache::classes) {
        frame_cache& fc = t_frame_cache;
        if (frame_cache::block* b = fc.heads[c]) {
            fc.heads[c] = b->next;
            --fc.counts[c];
            return b;
        }
        return ::operator new(c* frame_cache::granule);
    }
#endif
    return ::operator new(n);
}

inline void frame_deallocate(void* p, std::size_t n) noexcept {
#if CORIO_FRAME_CACHE
    const std::size_t c = (n + frame_cache::granule - 1) / frame_cache::granule;
    if (c < frame_cache::classes) {
        frame_cache& fc = t_frame_cache;
        if (fc.counts[c] < frame_cache::max_cached && !fc.draining) {
            if (!fc.registered) [[unlikely]]
                frame_cache_register_drain();
            auto* b = static_cast<frame_cache::block*>(p);
            b->next = fc.heads[c];
            fc.heads[c] = b;
            ++fc.counts[c];
            return;
        }
        ::operator delete(p);
        return;
    }
#endif
    ::operator delete(p); // unsized: clang needs -fsized-deallocation for the sized form
    (void)n;
}

} // namespace corio::detail
