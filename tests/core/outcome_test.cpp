#include "corio/core/cancelled_error.hpp"
#include "corio/core/outcome.hpp"

#include <gtest/gtest.h>

#include <exception>
#include <memory>
#include <stdexcept>
#include <utility>

namespace {

using corio::outcome;

TEST(Outcome, AValueOutcomeHasTheValueAndNoException) {
    outcome<int> o(std::in_place, 3);
    EXPECT_TRUE(o.has_value());
    EXPECT_TRUE(static_cast<bool>(o));
    EXPECT_EQ(o.value(), 3);
    EXPECT_EQ(o.exception(), nullptr);
    EXPECT_FALSE(o.cancelled());
}

TEST(Outcome, AFailedOutcomeRethrowsFromValueAndIsNotACancellation) {
    outcome<int> o(std::make_exception_ptr(std::runtime_error("bad")));
    EXPECT_FALSE(o.has_value());
    EXPECT_FALSE(static_cast<bool>(o));
    EXPECT_NE(o.exception(), nullptr);
    EXPECT_THROW(o.value(), std::runtime_error);
    EXPECT_FALSE(o.cancelled());
}

TEST(Outcome, ACancelledErrorMakesTheOutcomeCancelled) {
    outcome<void> o(std::make_exception_ptr(corio::cancelled_error()));
    EXPECT_TRUE(o.cancelled());
    EXPECT_THROW(o.value(), corio::cancelled_error);
}

TEST(Outcome, AVoidOutcomeSucceedsWithoutAValue) {
    outcome<void> o(std::in_place);
    EXPECT_TRUE(o.has_value());
    EXPECT_NO_THROW(o.value());
}

TEST(Outcome, AnRvalueOutcomeMovesAMoveOnlyValueOut) {
    outcome<std::unique_ptr<int>> o(std::in_place, std::make_unique<int>(9));
    std::unique_ptr<int> p = std::move(o).value();
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(*p, 9);
}

TEST(Outcome, AReferenceOutcomeRefersToTheOriginalObject) {
    int x = 1;
    outcome<int&> o(std::in_place, x);
    o.value() = 5;
    EXPECT_EQ(x, 5);
}

} // namespace
