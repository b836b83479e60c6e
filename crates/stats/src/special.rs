//! Special functions behind the intervals: log-gamma, the regularized incomplete beta and
//! gamma functions, the normal distribution and its quantile.
//!
//! Written out here rather than pulled in, so that every number radgate reports rests on
//! code that its tests compare with an independent implementation.

use std::f64::consts::PI;

const EPS: f64 = 1e-15;
const MAX_ITER: usize = 5000;

/// ln Γ(x) for x > 0 (Lanczos approximation, g = 7, n = 9; relative error below 1e-14).
pub fn ln_gamma(x: f64) -> f64 {
    const G: f64 = 7.0;
    const C: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        // Reflection keeps the approximation in its accurate range.
        return (PI / (PI * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut a = C[0];
    let t = x + G + 0.5;
    for (i, c) in C.iter().enumerate().skip(1) {
        a += c / (x + i as f64);
    }
    0.5 * (2.0 * PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

/// Both shape parameters at least this large: the saddlepoint approximation is used, whose
/// relative error falls as 1/min(a, b), where the continued fraction would need millions of
/// terms and the log-gamma differences lose their digits.
const SADDLEPOINT_FROM: f64 = 1e6;

/// The regularized incomplete beta function I_x(a, b).
pub fn beta_inc(a: f64, b: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    if a.min(b) >= SADDLEPOINT_FROM {
        return beta_inc_saddlepoint(a, b, x);
    }
    // -ln B(a, b) + a ln x + b ln(1 - x), each part kept accurate when one shape is huge
    // (10^15 trials): the log-gamma difference of the larger shape in closed form, and
    // ln(1 - x) without first rounding 1 - x.
    let ln_front = -ln_beta(a, b) + a * x.ln() + b * (-x).ln_1p();
    // The continued fraction converges fast for x < (a+1)/(a+b+2); use symmetry otherwise.
    if x < (a + 1.0) / (a + b + 2.0) {
        ln_front.exp() * beta_cf(a, b, x) / a
    } else {
        1.0 - ln_front.exp() * beta_cf(b, a, 1.0 - x) / b
    }
}

/// I_x(a, b) for large a and b by the Lugannani-Rice saddlepoint approximation. With
/// G_a, G_b independent gamma variables, Beta(a, b) = G_a / (G_a + G_b), so I_x(a, b) =
/// P(Y <= 0) for Y = (1 - x) G_a - x G_b, whose cumulant generating function is
/// K(t) = -a ln(1 - (1 - x) t) - b ln(1 + x t). At the saddlepoint K'(t) = 0:
/// w = sign(x - a/(a+b)) sqrt(2 [a ln(a/((a+b)x)) + b ln(b/((a+b)(1-x)))]),
/// u = (b x - a (1 - x)) sqrt((a + b)/(a b)), and I_x(a, b) = Phi(w) + phi(w) (1/w - 1/u).
fn beta_inc_saddlepoint(a: f64, b: f64, x: f64) -> f64 {
    let n = a + b;
    // a ln(a/(n x)) + b ln(b/(n (1-x))), written with ln_1p so that it keeps its digits
    // when x is close to the mean a/n (where both terms nearly cancel).
    let (ma, mb) = (a / n, b / n);
    let d = (x - ma) / ma; // x/ma - 1
    let e = ((1.0 - x) - mb) / mb; // (1-x)/mb - 1
    // The first-order terms a d + b e cancel exactly (they sum to n (1 - ma - mb) = 0);
    // leaving them out keeps the rounding of d and e from swamping the second order.
    let kl = -a * ln_1p_minus(d) - b * ln_1p_minus(e);
    let u = (b * x - a * (1.0 - x)) * (n / (a * b)).sqrt();
    if kl <= 0.0 || u.abs() < 1e-3 {
        // Near the mean 1/w - 1/u cancels to noise; there the expansion's limit holds:
        // Phi(u) plus the skewness term (b - a)/(3 sqrt(2 pi a b n)).
        return (normal_cdf(u) + (b - a) / (3.0 * (2.0 * PI * a * b * n).sqrt())).clamp(0.0, 1.0);
    }
    let w = u.signum() * (2.0 * kl).sqrt();
    let phi = (-0.5 * w * w).exp() / (2.0 * PI).sqrt();
    (normal_cdf(w) + phi * (1.0 / w - 1.0 / u)).clamp(0.0, 1.0)
}

/// ln B(a, b) = ln Γ(a) + ln Γ(b) - ln Γ(a + b). When the larger shape is large, the
/// difference ln Γ(big + small) - ln Γ(big) comes from Stirling's series in closed form,
/// where subtracting two log-gammas of size 10^16 would leave nothing of it.
pub fn ln_beta(a: f64, b: f64) -> f64 {
    let (small, big) = if a < b { (a, b) } else { (b, a) };
    if big < 1e5 {
        return ln_gamma(a) + ln_gamma(b) - ln_gamma(a + b);
    }
    // ln Γ(big + small) - ln Γ(big)
    //   = small ln big + (big + small - 1/2) ln(1 + small/big) - small + μ(big + small) - μ(big),
    // with μ(z) = 1/(12 z) - 1/(360 z^3) + 1/(1260 z^5), the Stirling remainder.
    let mu = |z: f64| {
        let z2 = z * z;
        (1.0 / 12.0 - (1.0 / 360.0 - 1.0 / (1260.0 * z2)) / z2) / z
    };
    let ratio = small * big.ln() + (big + small - 0.5) * (small / big).ln_1p() - small
        + (mu(big + small) - mu(big));
    ln_gamma(small) - ratio
}

/// ln(1 + d) - d, accurate for small d too (its series, where subtracting would cancel).
fn ln_1p_minus(d: f64) -> f64 {
    if d.abs() > 1e-2 {
        return d.ln_1p() - d;
    }
    // -d^2/2 + d^3/3 - d^4/4 + ...
    let (mut sum, mut power) = (0.0, d);
    for k in 2..60 {
        power *= -d;
        let term = power / k as f64;
        sum += term;
        if term.abs() <= sum.abs() * 1e-17 {
            break;
        }
    }
    sum
}

/// Smallest magnitude Lentz's method lets a denominator take.
const TINY: f64 = 1e-300;

/// One step of the modified Lentz method for `b + a/(...)`: updates `c` and `d` and returns
/// the factor by which the fraction's value changes.
fn lentz_step(c: &mut f64, d: &mut f64, a: f64, b: f64) -> f64 {
    *d = b + a * *d;
    if d.abs() < TINY {
        *d = TINY;
    }
    *c = b + a / *c;
    if c.abs() < TINY {
        *c = TINY;
    }
    *d = 1.0 / *d;
    *d * *c
}

/// Continued fraction for the incomplete beta function, modified Lentz's method.
fn beta_cf(a: f64, b: f64, x: f64) -> f64 {
    let (qab, qap, qam) = (a + b, a + 1.0, a - 1.0);
    let mut c = 1.0;
    let mut d = 1.0 - qab * x / qap;
    if d.abs() < TINY {
        d = TINY;
    }
    d = 1.0 / d;
    let mut h = d;
    for m in 1..=MAX_ITER {
        let m = m as f64;
        let m2 = 2.0 * m;
        let even = m * (b - m) * x / ((qam + m2) * (a + m2));
        h *= lentz_step(&mut c, &mut d, even, 1.0);
        let odd = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
        let delta = lentz_step(&mut c, &mut d, odd, 1.0);
        h *= delta;
        if (delta - 1.0).abs() < EPS {
            break;
        }
    }
    h
}

/// The p-quantile of Beta(a, b), by bisection on [`beta_inc`] (monotone in x).
pub fn beta_quantile(p: f64, a: f64, b: f64) -> f64 {
    if p <= 0.0 {
        return 0.0;
    }
    if p >= 1.0 {
        return 1.0;
    }
    let (mut lo, mut hi) = (0.0f64, 1.0f64);
    // To the last bits relative to the quantile itself: a bound of 10^-15 (a few events in
    // 10^15 trials) needs as many digits as one of 0.5. Halving reaches any double in about
    // 1,100 steps; ordinary quantiles stop after about 55.
    for _ in 0..1100 {
        let mid = 0.5 * (lo + hi);
        if beta_inc(a, b, mid) < p {
            lo = mid;
        } else {
            hi = mid;
        }
        if hi - lo <= 2.0 * f64::EPSILON * hi {
            break;
        }
    }
    0.5 * (lo + hi)
}

/// The p-quantile of Snedecor's F distribution with (d1, d2) degrees of freedom, which may
/// be fractional: if B ~ Beta(d1/2, d2/2) then d2 B / (d1 (1 - B)) ~ F(d1, d2).
pub fn f_quantile(p: f64, d1: f64, d2: f64) -> f64 {
    let b = beta_quantile(p, d1 / 2.0, d2 / 2.0);
    d2 * b / (d1 * (1.0 - b))
}

/// P(F > x) for F ~ F(d1, d2).
pub fn f_sf(x: f64, d1: f64, d2: f64) -> f64 {
    if x <= 0.0 {
        return 1.0;
    }
    beta_inc(d2 / 2.0, d1 / 2.0, d2 / (d2 + d1 * x))
}

/// P(X > x) for X ~ chi-square with `df` degrees of freedom.
pub fn chi2_sf(x: f64, df: f64) -> f64 {
    gamma_q(df / 2.0, x / 2.0)
}

/// The regularized upper incomplete gamma function Q(a, x).
pub fn gamma_q(a: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 1.0;
    }
    let ln_front = a * x.ln() - x - ln_gamma(a);
    if x < a + 1.0 {
        // Series for P(a, x).
        let (mut sum, mut term, mut ap) = (1.0 / a, 1.0 / a, a);
        for _ in 0..MAX_ITER {
            ap += 1.0;
            term *= x / ap;
            sum += term;
            if term.abs() < sum.abs() * EPS {
                break;
            }
        }
        1.0 - sum * ln_front.exp()
    } else {
        // Continued fraction for Q(a, x), modified Lentz.
        let mut b = x + 1.0 - a;
        let mut c = 1.0 / TINY;
        let mut d = 1.0 / b;
        let mut h = d;
        for i in 1..=MAX_ITER {
            let an = -(i as f64) * (i as f64 - a);
            b += 2.0;
            let delta = lentz_step(&mut c, &mut d, an, b);
            h *= delta;
            if (delta - 1.0).abs() < EPS {
                break;
            }
        }
        ln_front.exp() * h
    }
}

/// The standard normal distribution function Φ(z).
pub fn normal_cdf(z: f64) -> f64 {
    // Φ(z) = erfc(-z/√2)/2 and erfc(t) = Q(1/2, t²) for t >= 0.
    let t = z / std::f64::consts::SQRT_2;
    if z < 0.0 {
        0.5 * gamma_q(0.5, t * t)
    } else {
        1.0 - 0.5 * gamma_q(0.5, t * t)
    }
}

/// The p-quantile of the standard normal distribution, by bisection on [`normal_cdf`].
pub fn normal_quantile(p: f64) -> f64 {
    assert!(
        p > 0.0 && p < 1.0,
        "normal quantile needs 0 < p < 1, got {p}"
    );
    let (mut lo, mut hi) = (-40.0f64, 40.0f64);
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if normal_cdf(mid) < p {
            lo = mid;
        } else {
            hi = mid;
        }
        if hi - lo < 1e-15 {
            break;
        }
    }
    0.5 * (lo + hi)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ln_gamma_matches_factorials() {
        // Γ(n) = (n-1)!, an exact independent reference.
        let mut fact = 1.0f64;
        for n in 1..30 {
            assert!((ln_gamma(n as f64) - fact.ln()).abs() < 1e-12, "n={n}");
            fact *= n as f64;
        }
        assert!((ln_gamma(0.5) - PI.sqrt().ln()).abs() < 1e-13);
    }

    #[test]
    fn beta_inc_matches_closed_forms() {
        // I_x(1, b) = 1 - (1-x)^b and I_x(a, 1) = x^a.
        for &x in &[0.01, 0.2, 0.5, 0.77, 0.99] {
            for &k in &[0.5, 1.0, 3.0, 17.0] {
                assert!((beta_inc(1.0, k, x) - (1.0 - (1.0 - x).powf(k))).abs() < 1e-13);
                assert!((beta_inc(k, 1.0, x) - x.powf(k)).abs() < 1e-13);
            }
        }
    }

    #[test]
    fn normal_quantile_matches_published_values() {
        // Standard normal table values.
        assert!((normal_quantile(0.975) - 1.959_963_984_540_054).abs() < 1e-12);
        assert!((normal_quantile(0.995) - 2.575_829_303_548_901).abs() < 1e-12);
        assert!((normal_quantile(0.5)).abs() < 1e-14);
        assert!((normal_cdf(1.0) - 0.841_344_746_068_542_9).abs() < 1e-14);
    }
}
