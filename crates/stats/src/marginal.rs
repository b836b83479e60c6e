//! The Stuart-Maxwell test of marginal homogeneity for a square table of paired ordinal
//! scores (Stuart 1955, Maxwell 1970): do the two raters use the scale points equally
//! often? It is the chi-square generalisation of McNemar's test.

use serde::Serialize;

use crate::special::chi2_sf;

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct StuartMaxwell {
    pub statistic: f64,
    pub df: usize,
    pub p_value: f64,
}

/// The test on the categories the scores use, with d' S⁻ d for a generalised inverse S⁻ of
/// the covariance and the degrees of freedom its rank. The textbook form drops one category
/// and inverts; that fails when the table falls apart into blocks of categories the raters
/// never confuse with each other (or a category both raters only ever gave together), and
/// the generalised form is the sum of the tests on the blocks, which is what it should be.
/// With no disagreement at all the margins are equal: statistic 0, df 0, p = 1.
pub fn stuart_maxwell(pairs: &[(i64, i64)]) -> Option<StuartMaxwell> {
    if pairs.is_empty() {
        return None;
    }
    let mut cats: Vec<i64> = pairs.iter().flat_map(|(a, b)| [*a, *b]).collect();
    cats.sort_unstable();
    cats.dedup();
    let k = cats.len();
    let idx = |v: i64| cats.binary_search(&v).expect("category seen");
    let mut table = vec![vec![0.0f64; k]; k];
    for (a, b) in pairs {
        table[idx(*a)][idx(*b)] += 1.0;
    }
    let rows: Vec<f64> = table.iter().map(|r| r.iter().sum()).collect();
    let cols: Vec<f64> = (0..k).map(|j| table.iter().map(|r| r[j]).sum()).collect();
    let d: Vec<f64> = (0..k).map(|i| rows[i] - cols[i]).collect();
    let cov: Vec<Vec<f64>> = (0..k)
        .map(|i| {
            (0..k)
                .map(|j| {
                    if i == j {
                        rows[i] + cols[i] - 2.0 * table[i][i]
                    } else {
                        -(table[i][j] + table[j][i])
                    }
                })
                .collect()
        })
        .collect();
    let (x, rank) = solve_consistent(cov, d.clone());
    let statistic: f64 = d.iter().zip(&x).map(|(a, b)| a * b).sum();
    if rank == 0 {
        return Some(StuartMaxwell {
            statistic: 0.0,
            df: 0,
            p_value: 1.0,
        });
    }
    Some(StuartMaxwell {
        statistic,
        df: rank,
        p_value: chi2_sf(statistic, rank as f64),
    })
}

/// One solution of A x = b for symmetric positive semi-definite A with b in its column
/// space, and the rank of A: Gaussian elimination with partial pivoting that leaves a
/// column without a usable pivot free (its x is 0). For such a system every solution gives
/// the same b'x, which is b' A⁻ b for any generalised inverse.
fn solve_consistent(mut a: Vec<Vec<f64>>, mut b: Vec<f64>) -> (Vec<f64>, usize) {
    let n = b.len();
    let tol = 1e-10
        * a.iter()
            .flatten()
            .fold(0.0f64, |m, v| m.max(v.abs()))
            .max(1.0);
    let mut pivots: Vec<(usize, usize)> = Vec::new();
    let mut row = 0;
    for col in 0..n {
        if row == n {
            break;
        }
        let best = (row..n)
            .max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))
            .expect("rows left");
        if a[best][col].abs() <= tol {
            continue;
        }
        a.swap(row, best);
        b.swap(row, best);
        for r in row + 1..n {
            let f = a[r][col] / a[row][col];
            if f != 0.0 {
                let (above, below) = a.split_at_mut(r);
                for (x, p) in below[0][col..].iter_mut().zip(&above[row][col..]) {
                    *x -= f * p;
                }
                b[r] -= f * b[row];
            }
        }
        pivots.push((row, col));
        row += 1;
    }
    let mut x = vec![0.0; n];
    for &(r, col) in pivots.iter().rev() {
        let s: f64 = (col + 1..n).map(|c| a[r][c] * x[c]).sum();
        x[col] = (b[r] - s) / a[r][col];
    }
    (x, pivots.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_categories_reduce_to_mcnemar_without_correction() {
        // b = 10 discordant one way, c = 4 the other: (b - c)^2 / (b + c).
        let mut pairs = vec![(1, 0); 10];
        pairs.extend(vec![(0, 1); 4]);
        pairs.extend(vec![(1, 1); 20]);
        let r = stuart_maxwell(&pairs).unwrap();
        assert!((r.statistic - 36.0 / 14.0).abs() < 1e-12, "{r:?}");
        assert_eq!(r.df, 1);
    }

    #[test]
    fn separate_blocks_of_categories_add_up() {
        // {1,2} and {3,4,5} are never confused with each other. Block {1,2}: McNemar 1/1.
        // Block {3,4,5} with pairs 3-4, 4-3, 4-5: d = (0, 1) on {3,4}, S = [[2,-2],[-2,3]],
        // d' S^-1 d = 1. Total 2 on df 1 + 2 = 3.
        let mut pairs = vec![(2, 1), (3, 4), (4, 3), (4, 5)];
        pairs.extend([(1, 1), (2, 2), (5, 5), (3, 3)]);
        let r = stuart_maxwell(&pairs).unwrap();
        assert!((r.statistic - 2.0).abs() < 1e-12, "{r:?}");
        assert_eq!(r.df, 3);
    }

    #[test]
    fn equal_margins_give_zero_and_diagonal_only_categories_drop_out() {
        let r = stuart_maxwell(&[(1, 1), (2, 2), (3, 3)]).unwrap();
        assert_eq!((r.statistic, r.df, r.p_value), (0.0, 0, 1.0));
        // Category 9 only on the diagonal: the test runs on 1..3 with df 2 regardless.
        let base = [(1, 2), (2, 3), (3, 1), (1, 3), (2, 1), (1, 1), (2, 2)];
        let mut with_nine = base.to_vec();
        with_nine.extend([(9, 9), (9, 9)]);
        let (a, b) = (
            stuart_maxwell(&base).unwrap(),
            stuart_maxwell(&with_nine).unwrap(),
        );
        assert_eq!(a, b);
        assert_eq!(a.df, 2);
    }
}
