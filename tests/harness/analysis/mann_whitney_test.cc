// Mann-Whitney U against reference values. The references come from scipy 1.17.1 (PyPI) and from
// brute-force enumeration of every split, by this script (python3 with numpy and scipy):
//
//   from scipy.stats import mannwhitneyu, rankdata
//   def exact_perm(x, y):  # exact permutation distribution of the midrank sum (ties allowed)
//       z = np.concatenate([x, y]); r = rankdata(z); n1 = len(x); obs = r[:n1].sum()
//       sums = np.array([r[list(c)].sum() for c in itertools.combinations(range(len(z)), n1)])
//       return min(1, 2 * min(np.mean(sums <= obs + 1e-9), np.mean(sums >= obs - 1e-9)))
//   mannwhitneyu(x, y, alternative='two-sided', method='exact')       # no ties
//   mannwhitneyu(x, y, alternative='two-sided', method='asymptotic')  # use_continuity=True
//
// (scipy's 'exact' ignores ties, hence the enumeration for the tied case.)
#include "harness/analysis/mann_whitney.h"

#include <cmath>
#include <vector>

#include <gtest/gtest.h>

namespace tlm {
namespace {

TEST(MannWhitneyTest, ExactWithoutTiesMatchesScipy) {
  const std::vector<double> x = {1.1, 2.3, 3.5, 4.2, 5.9}, y = {2.0, 6.1, 7.4, 8.8, 9.3, 10.5};
  const MannWhitneyResult r = MannWhitneyU(x, y);
  EXPECT_TRUE(r.exact);
  EXPECT_DOUBLE_EQ(r.u, 4);
  EXPECT_NEAR(r.p_value, 0.051948051948051951, 1e-12);  // 8/154... scipy exact and enumeration agree
}

TEST(MannWhitneyTest, FullySeparatedFiveAgainstFiveIsTheSmallestExactP) {
  const std::vector<double> x = {1, 2, 3, 4, 5}, y = {6, 7, 8, 9, 10};
  const MannWhitneyResult r = MannWhitneyU(x, y);
  EXPECT_DOUBLE_EQ(r.u, 0);
  EXPECT_NEAR(r.p_value, 2.0 / 252, 1e-12);  // 0.0079365..., below 0.01
  EXPECT_NEAR(MannWhitneyU(y, x).p_value, 2.0 / 252, 1e-12);
  EXPECT_DOUBLE_EQ(MannWhitneyU(y, x).u, 25);
}

TEST(MannWhitneyTest, ExactWithTiesMatchesEnumeration) {
  const std::vector<double> x = {1, 2, 2, 3, 5}, y = {2, 3, 3, 4, 6, 6};
  const MannWhitneyResult r = MannWhitneyU(x, y);
  EXPECT_TRUE(r.exact);
  EXPECT_DOUBLE_EQ(r.u, 7);
  EXPECT_NEAR(r.p_value, 0.17316017316017315, 1e-12);
}

TEST(MannWhitneyTest, IdenticalDeterministicValuesPerSide) {
  // Instruction counts: every base value equal, every candidate value equal and 10% higher.
  const std::vector<double> base(5, 100), cand(5, 110);
  EXPECT_NEAR(MannWhitneyU(base, cand).p_value, 2.0 / 252, 1e-12);
  // Identical on both sides: no evidence at all.
  const MannWhitneyResult same = MannWhitneyU(base, base);
  EXPECT_DOUBLE_EQ(same.p_value, 1);
  EXPECT_DOUBLE_EQ(same.u, 12.5);
  // Large identical samples take the same path (no division by a zero variance).
  const std::vector<double> big(50, 3.0);
  EXPECT_DOUBLE_EQ(MannWhitneyU(big, big).p_value, 1);
}

TEST(MannWhitneyTest, AsymptoticMatchesScipy) {
  const std::vector<double> x = {10.001, 10.299, 9.726, 9.109, 9.545, 9.008, 10.06, 11.34, 9.508, 9.38, 10.49, 10.357};
  const std::vector<double> y = {11.105, 10.07, 10.971, 11.695, 9.656, 10.542, 9.099, 9.71,
                                 9.158,  10.765, 9.733, 11.271, 11.157, 10.813, 8.483};
  const MannWhitneyResult r = MannWhitneyU(x, y);
  EXPECT_FALSE(r.exact);
  EXPECT_DOUBLE_EQ(r.u, 64);
  EXPECT_NEAR(r.p_value, 0.21339925437636265, 1e-12);
}

TEST(MannWhitneyTest, AsymptoticWithTiesMatchesScipy) {
  const std::vector<double> x = {1, 1, 2, 2, 2, 3, 3, 4, 5, 5}, y = {2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7};
  const MannWhitneyResult r = MannWhitneyU(x, y);
  EXPECT_FALSE(r.exact);
  EXPECT_DOUBLE_EQ(r.u, 21.5);
  EXPECT_NEAR(r.p_value, 0.018661784986012855, 1e-12);
}

TEST(MannWhitneyTest, EmptyAndNaN) {
  const std::vector<double> none, some = {1, 2, 3};
  EXPECT_DOUBLE_EQ(MannWhitneyU(none, some).p_value, 1);
  const std::vector<double> with_nan = {1, 2, 3, 4, 5, std::nan("")};
  const std::vector<double> high = {6, 7, 8, 9, 10};
  EXPECT_NEAR(MannWhitneyU(with_nan, high).p_value, 2.0 / 252, 1e-12);
}

}  // namespace
}  // namespace tlm
