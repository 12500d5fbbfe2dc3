#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>
#include <span>
#include <stdexcept>
#include <utility>

namespace corio::detail {

/// A FIFO of bytes in one heap block: nothing is allocated while it is empty, and the block is
/// freed as soon as the last byte is consumed, so an idle stream holds no buffer. 16 bytes: the
/// block's capacity is kept in the block itself.
///
/// Invariant: m_begin <= m_end <= capacity(); m_block is null exactly when the buffer is empty
/// (consume(), commit() and clear() free an emptied block).
class byte_buffer {
  public:
    byte_buffer() noexcept = default;
    byte_buffer(const byte_buffer&) = delete;
    byte_buffer& operator=(const byte_buffer&) = delete;
    ~byte_buffer() { std::free(m_block); }

    [[nodiscard]] std::size_t size() const noexcept { return m_end - m_begin; }
    [[nodiscard]] bool empty() const noexcept { return m_end == m_begin; }
    [[nodiscard]] std::size_t capacity() const noexcept {
        return m_block ? static_cast<const header*>(m_block)->capacity : 0;
    }
    [[nodiscard]] const std::byte* data() const noexcept { return bytes() + m_begin; }
    [[nodiscard]] std::span<const std::byte> view() const noexcept { return {data(), size()}; }

    /// Drops the first `n` bytes (n <= size()); frees the block once empty.
    void consume(std::size_t n) noexcept {
        m_begin += static_cast<std::uint32_t>(n);
        if (m_begin == m_end)
            clear();
    }
    /// Drops everything and frees the block.
    void clear() noexcept {
        std::free(m_block);
        m_block = nullptr;
        m_begin = m_end = 0;
    }
    /// Appends `bytes`, growing geometrically. Errors: std::bad_alloc, std::length_error (the
    /// buffer is unchanged).
    void append(std::span<const std::byte> in) {
        if (in.empty())
            return;
        std::memcpy(tail(in.size(), std::max(in.size(), size())).data(), in.data(), in.size());
        commit(in.size());
    }
    /// Puts `bytes` back in front of the buffered ones. Errors: as append().
    void prepend(std::span<const std::byte> in) {
        if (in.empty())
            return;
        const std::size_t old = size();
        if (in.size() > max_size - old)
            throw std::length_error("corio: stream buffer larger than 4 GiB");
        const std::size_t total = old + in.size();
        void* block = allocate(total);
        std::byte* d = static_cast<std::byte*>(block) + sizeof(header);
        std::memcpy(d, in.data(), in.size());
        if (old)
            std::memcpy(d + in.size(), data(), old);
        std::free(m_block);
        m_block = block;
        m_begin = 0;
        m_end = static_cast<std::uint32_t>(total);
    }
    /// Room for at least `min_free` more bytes after the buffered ones (moving them to the front
    /// or growing the block); grows to `want_free` when it has to grow. Call commit() with what
    /// was written. Errors: as append().
    std::span<std::byte> tail(std::size_t min_free, std::size_t want_free) {
        const std::size_t cap = capacity();
        if (cap - m_end < min_free) {
            const std::size_t n = size();
            if (cap - n >= min_free && m_begin > 0) {
                std::memmove(bytes(), bytes() + m_begin, n);
            } else {
                const std::size_t grow = want_free > min_free ? want_free : min_free;
                if (grow > max_size - n)
                    throw std::length_error("corio: stream buffer larger than 4 GiB");
                void* block = allocate(n + grow);
                if (n)
                    std::memcpy(static_cast<std::byte*>(block) + sizeof(header), data(), n);
                std::free(m_block);
                m_block = block;
            }
            m_begin = 0;
            m_end = static_cast<std::uint32_t>(n);
        }
        return {bytes() + m_end, capacity() - m_end};
    }
    /// Adds `n` bytes written into tail() to the buffered ones.
    void commit(std::size_t n) noexcept {
        m_end += static_cast<std::uint32_t>(n);
        if (m_begin == m_end)
            clear();
    }

  private:
    struct header {
        std::uint32_t capacity;
        std::uint32_t reserved;
    };
    static constexpr std::size_t max_size = 0xffffffffu - 64;

    /// A block with room for `n` bytes (rounded up to 64) after its header.
    static void* allocate(std::size_t n) {
        const std::size_t cap = (n + 63) & ~std::size_t{63};
        void* block = std::malloc(sizeof(header) + cap);
        if (!block)
            throw std::bad_alloc();
        static_cast<header*>(block)->capacity = static_cast<std::uint32_t>(cap);
        return block;
    }
    [[nodiscard]] std::byte* bytes() const noexcept {
        return m_block ? static_cast<std::byte*>(m_block) + sizeof(header) : nullptr;
    }

    void* m_block = nullptr;
    std::uint32_t m_begin = 0;
    std::uint32_t m_end = 0;
};

} // namespace corio::detail
