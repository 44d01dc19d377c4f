//! Closed-form queueing results: the oracle the simulator is checked against, and the
//! quick estimates a planner can use before (or instead of) simulating.
//!
//! Notation: arrival rate `λ` (per second), mean service time `S` (seconds), `c`
//! servers, offered load `a = λS` (Erlangs), utilisation `ρ = a / c`. Every function
//! returns `None` (or 1.0 for blocking) where the queue has no steady state (`ρ >= 1`
//! with an unbounded queue) or an input is not a positive finite number.
//!
//! - [`erlang_b`], [`erlang_c`]: probability of blocking (M/M/c/c) and of waiting (M/M/c);
//! - [`mmc_mean_wait_s`], [`mmc_wait_exceeds`]: M/M/c queue wait, mean and tail;
//! - [`mg1_mean_wait_s`] (Pollaczek-Khinchine) and [`md1_mean_wait_s`];
//! - [`mmck_blocking`]: refusals when at most `K` jobs may wait (the mocks' `job_capacity`).

/// Utilisation `ρ = λS / c`.
pub fn utilisation(arrival_rate_per_s: f64, mean_service_s: f64, servers: usize) -> f64 {
    arrival_rate_per_s * mean_service_s / servers.max(1) as f64
}

fn positive(x: f64) -> Option<f64> {
    (x.is_finite() && x > 0.0).then_some(x)
}

/// Erlang B: probability that all `servers` are busy in M/M/c/c with offered load `a`,
/// by the stable recursion `B(0) = 1`, `B(k) = a B(k-1) / (k + a B(k-1))`.
pub fn erlang_b(servers: usize, offered_load: f64) -> Option<f64> {
    let a = positive(offered_load)?;
    let mut b = 1.0;
    for k in 1..=servers {
        b = a * b / (k as f64 + a * b);
    }
    Some(b)
}

/// Erlang C: probability that an arrival waits in M/M/c, `C = cB / (c - a(1 - B))`.
pub fn erlang_c(servers: usize, offered_load: f64) -> Option<f64> {
    let c = servers as f64;
    if servers == 0 || offered_load >= c {
        return None;
    }
    let b = erlang_b(servers, offered_load)?;
    Some(c * b / (c - offered_load * (1.0 - b)))
}

/// M/M/c mean queue wait `W_q = C(c, a) S / (c - a)`, seconds.
pub fn mmc_mean_wait_s(servers: usize, arrival_rate_per_s: f64, mean_service_s: f64) -> Option<f64> {
    let s = positive(mean_service_s)?;
    let a = positive(arrival_rate_per_s)? * s;
    Some(erlang_c(servers, a)? * s / (servers as f64 - a))
}

/// M/M/c probability that the queue wait exceeds `t_s`: `C e^{-(c - a) t / S}`.
pub fn mmc_wait_exceeds(servers: usize, arrival_rate_per_s: f64, mean_service_s: f64, t_s: f64) -> Option<f64> {
    let s = positive(mean_service_s)?;
    let a = positive(arrival_rate_per_s)? * s;
    let c = erlang_c(servers, a)?;
    Some(c * (-(servers as f64 - a) * t_s.max(0.0) / s).exp())
}

/// M/G/1 mean queue wait by Pollaczek-Khinchine, `W_q = ρ S (1 + cs²) / (2 (1 - ρ))`,
/// where `cs²` is the service time's squared coefficient of variation (0 fixed, 1 exponential).
pub fn mg1_mean_wait_s(arrival_rate_per_s: f64, mean_service_s: f64, service_scv: f64) -> Option<f64> {
    let s = positive(mean_service_s)?;
    let rho = positive(arrival_rate_per_s)? * s;
    if rho >= 1.0 || !service_scv.is_finite() || service_scv < 0.0 {
        return None;
    }
    Some(rho * s * (1.0 + service_scv) / (2.0 * (1.0 - rho)))
}

/// M/D/1 mean queue wait, `W_q = ρ S / (2 (1 - ρ))`.
pub fn md1_mean_wait_s(arrival_rate_per_s: f64, service_s: f64) -> Option<f64> {
    mg1_mean_wait_s(arrival_rate_per_s, service_s, 0.0)
}

/// M/M/c with at most `queue_capacity` jobs waiting (system size `N = c + K`): the
/// probability an arrival is refused, `P_N = (a^c / c!) ρ^K p_0`. Any load is allowed.
/// Computed in logs so that large `c` and `a` do not overflow.
pub fn mmck_blocking(servers: usize, queue_capacity: usize, offered_load: f64) -> Option<f64> {
    let a = positive(offered_load)?;
    if servers == 0 {
        return None;
    }
    // ln of the unnormalised state probabilities: n <= c: a^n / n!; beyond: times rho^k.
    let mut ln_terms = Vec::with_capacity(servers + queue_capacity + 1);
    let mut ln_t = 0.0;
    ln_terms.push(ln_t);
    for n in 1..=servers + queue_capacity {
        ln_t += a.ln() - (n.min(servers) as f64).ln();
        ln_terms.push(ln_t);
    }
    let max = ln_terms.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let sum: f64 = ln_terms.iter().map(|t| (t - max).exp()).sum();
    Some((ln_t - max).exp() / sum)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(got: Option<f64>, want: f64) {
        let g = got.unwrap_or(f64::NAN);
        assert!((g - want).abs() < 1e-12, "got {g}, want {want}");
    }

    #[test]
    fn mm2_at_half_load_waits_a_third_of_the_time() {
        // Hand computation, M/M/2 with λ = 1/s, S = 1 s (a = 1, ρ = 0.5):
        // B(1,1) = 1/2; B(2,1) = (1/2)/(2 + 1/2) = 1/5;
        // C = 2(1/5) / (2 - 1(4/5)) = 0.4 / 1.2 = 1/3;
        // W_q = C S / (c - a) = 1/3 s; P(W_q > 1 s) = (1/3) e^{-1}.
        close(erlang_b(2, 1.0), 0.2);
        close(erlang_c(2, 1.0), 1.0 / 3.0);
        close(mmc_mean_wait_s(2, 1.0, 1.0), 1.0 / 3.0);
        close(mmc_wait_exceeds(2, 1.0, 1.0, 1.0), (-1.0f64).exp() / 3.0);
        close(Some(utilisation(1.0, 1.0, 2)), 0.5);
    }

    #[test]
    fn mm1_reduces_to_rho_and_rho_s_over_one_minus_rho() {
        // M/M/1 textbook: P(wait) = ρ, W_q = ρ S / (1 - ρ). λ = 0.8/s, S = 1 s: 0.8 and 4 s.
        close(erlang_c(1, 0.8), 0.8);
        let w = mmc_mean_wait_s(1, 0.8, 1.0).unwrap_or(f64::NAN);
        assert!((w - 4.0).abs() < 1e-9, "{w}");
    }

    #[test]
    fn mm4_at_eight_tenths_matches_the_textbook_table() {
        // M/M/4, a = 3.2 (ρ = 0.8), by hand: sum_{n<4} a^n/n! = 1 + 3.2 + 5.12 + 5.461333
        // = 14.781333; a^4/4! = 4.369067, times 1/(1-ρ) = 21.845333;
        // C = 21.845333 / (14.781333 + 21.845333) = 0.596432; W_q = C S / (c - a) = 0.745540 S.
        let c = erlang_c(4, 3.2).unwrap_or(f64::NAN);
        assert!((c - 0.596_432).abs() < 1e-6, "{c}");
        let w = mmc_mean_wait_s(4, 3.2, 1.0).unwrap_or(f64::NAN);
        assert!((w - 0.745_540).abs() < 1e-6, "{w}");
    }

    #[test]
    fn md1_waits_half_as_long_as_mm1() {
        // P-K with cs² = 0: λ = 0.5/s, S = 1 s: W_q = 0.5 / (2 × 0.5) = 0.5 s; M/M/1: 1 s.
        close(md1_mean_wait_s(0.5, 1.0), 0.5);
        close(mg1_mean_wait_s(0.5, 1.0, 1.0), 1.0);
    }

    #[test]
    fn blocking_matches_hand_solved_birth_death_chains() {
        // M/M/1 with one waiting place (N = 2), ρ = 0.5: P_2 = (1-ρ)ρ²/(1-ρ³) = 1/7.
        close(mmck_blocking(1, 1, 0.5), 1.0 / 7.0);
        // M/M/2, a = 1, one waiting place: p1 = p0, p2 = p0/2, p3 = p2 (1/2) = p0/4,
        // p0 = 1/2.75 = 4/11, so P_3 = 1/11.
        close(mmck_blocking(2, 1, 1.0), 1.0 / 11.0);
        // No waiting room is Erlang B.
        close(mmck_blocking(3, 0, 2.0), erlang_b(3, 2.0).unwrap_or(f64::NAN));
        // Huge systems do not overflow.
        let p = mmck_blocking(500, 100, 600.0).unwrap_or(f64::NAN);
        assert!(p.is_finite() && p > 0.0 && p < 1.0, "{p}");
    }

    #[test]
    fn no_steady_state_gives_none() {
        assert_eq!(erlang_c(2, 2.0), None);
        assert_eq!(mmc_mean_wait_s(2, 3.0, 1.0), None);
        assert_eq!(md1_mean_wait_s(1.0, 1.0), None);
        assert_eq!(mmc_mean_wait_s(0, 1.0, 1.0), None);
        assert_eq!(md1_mean_wait_s(-1.0, 1.0), None);
    }
}
