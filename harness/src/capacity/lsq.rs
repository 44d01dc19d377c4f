//! A small Levenberg-Marquardt least-squares solver for the planner's fits (calibration,
//! Erlang C, Universal Scalability Law): a handful of bounded parameters, residuals from
//! any function (a closed form, or a run of the simulator).
//!
//! - the Jacobian is numeric: forward differences (backward at an upper bound) with step
//!   `diff_step * max(|x|, 0.01)`, so it also works on the simulator's piecewise-smooth
//!   outputs when `diff_step` is large enough to step over histogram resolution;
//! - the damped normal equations `(JᵀJ + λ diag(JᵀJ)) δ = -Jᵀr` are solved by Gaussian
//!   elimination with partial pivoting (at most a few parameters: no linear-algebra crate);
//! - bounds by clamping: a parameter on a bound whose gradient pushes it out is held
//!   there for the step (a simple active set), the others move;
//! - converged when the cost falls by less than `ftol` relative, the step is below
//!   `xtol` relative, or no damping finds a lower cost (a minimum to the residuals'
//!   resolution); not converged after `max_iterations` is an error with the last point.

/// One parameter to fit.
#[derive(Clone, Debug, PartialEq)]
pub struct Param {
    /// Name (for reports and errors).
    pub name: String,
    /// Starting value (clamped into the bounds).
    pub initial: f64,
    /// Smallest allowed value (may be `-inf`).
    pub lower: f64,
    /// Largest allowed value (may be `inf`).
    pub upper: f64,
}

impl Param {
    /// A parameter `name` starting at `initial` within `[lower, upper]`.
    pub fn new(name: &str, initial: f64, lower: f64, upper: f64) -> Self {
        Self { name: name.to_owned(), initial, lower, upper }
    }
}

/// Solver knobs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LsqOptions {
    /// Iterations (accepted or refused steps) before giving up.
    pub max_iterations: usize,
    /// Relative forward-difference step of the numeric Jacobian.
    pub diff_step: f64,
    /// Converged when the cost falls by less than this fraction in an accepted step.
    pub ftol: f64,
    /// Converged when every parameter moves by less than this fraction (of `max(|x|, 1)`).
    pub xtol: f64,
}

impl Default for LsqOptions {
    fn default() -> Self {
        Self { max_iterations: 200, diff_step: 1e-6, ftol: 1e-12, xtol: 1e-10 }
    }
}

/// A finished fit.
#[derive(Clone, Debug, PartialEq)]
pub struct LsqFit {
    /// Fitted values, in parameter order.
    pub values: Vec<f64>,
    /// Residuals at the fitted values.
    pub residuals: Vec<f64>,
    /// Root mean square of the residuals.
    pub rmse: f64,
    /// Iterations used.
    pub iterations: usize,
}

/// Why a fit failed; `E` is the residual function's own error.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum LsqError<E> {
    /// The residual function failed.
    #[error("{0}")]
    Residuals(E),
    /// No parameters, or bounds that hold no value.
    #[error("parameter {name}: {message}")]
    BadParam {
        /// The parameter.
        name: String,
        /// What is wrong.
        message: String,
    },
    /// Fewer residuals than parameters: the fit is under-determined.
    #[error("{residuals} residuals cannot determine {params} parameters")]
    TooFewResiduals {
        /// Residuals returned.
        residuals: usize,
        /// Parameters to fit.
        params: usize,
    },
    /// The residual function returned a different count, NaN or infinity.
    #[error("the residual function returned {first} residuals, then {then}")]
    ResidualCount {
        /// Residuals on the first call.
        first: usize,
        /// Residuals on a later call.
        then: usize,
    },
    /// The residual function returned NaN or infinity.
    #[error("the residual function returned residual {index} = {value} at {at:?}")]
    NotFinite {
        /// The residual's position.
        index: usize,
        /// Its value.
        value: f64,
        /// The parameters it was computed at.
        at: Vec<f64>,
    },
    /// Not converged within `max_iterations`.
    #[error("no convergence after {iterations} iterations (rmse {rmse:.6} at {values:?})")]
    NoConvergence {
        /// Iterations used.
        iterations: usize,
        /// The best point reached.
        values: Vec<f64>,
        /// Its residuals' RMS.
        rmse: f64,
    },
}

/// Fits `params` to minimise the sum of squares of `residuals(values)`, with default options.
pub fn least_squares<E, F>(params: &[Param], residuals: F) -> Result<LsqFit, LsqError<E>>
where
    F: FnMut(&[f64]) -> Result<Vec<f64>, E>,
{
    least_squares_with(params, &LsqOptions::default(), residuals)
}

/// [`least_squares`] with explicit [`LsqOptions`].
pub fn least_squares_with<E, F>(params: &[Param], options: &LsqOptions, residuals: F) -> Result<LsqFit, LsqError<E>>
where
    F: FnMut(&[f64]) -> Result<Vec<f64>, E>,
{
    check_params(params)?;
    let mut p = Problem { params, options, f: residuals, n: 0 };
    let mut x: Vec<f64> = params.iter().map(|q| q.initial.clamp(q.lower, q.upper)).collect();
    let mut r = p.eval(&x)?;
    if r.len() < params.len() {
        return Err(LsqError::TooFewResiduals { residuals: r.len(), params: params.len() });
    }
    p.n = r.len();
    let mut cost = sum_sq(&r);
    let mut lambda = 1e-3;
    for iteration in 1..=options.max_iterations {
        let jac = p.jacobian(&x, &r)?;
        let (a, g) = normal_equations(&jac, &r);
        let free = free_params(params, &x, &g);
        match p.damped_step(&x, &a, &g, &free, &mut lambda, cost)? {
            Step::Better { x: nx, r: nr, cost: ncost } => {
                let small_step = nx.iter().zip(&x).all(|(a, b)| (a - b).abs() <= options.xtol * b.abs().max(1.0));
                let small_gain = cost - ncost <= options.ftol * cost;
                (x, r, cost) = (nx, nr, ncost);
                if small_step || small_gain || cost == 0.0 {
                    return Ok(fit(x, r, iteration));
                }
            }
            Step::Stuck => return Ok(fit(x, r, iteration)),
        }
    }
    Err(LsqError::NoConvergence { iterations: options.max_iterations, rmse: rms(&r), values: x })
}

fn check_params<E>(params: &[Param]) -> Result<(), LsqError<E>> {
    if params.is_empty() {
        return Err(LsqError::BadParam { name: "(none)".into(), message: "nothing to fit".into() });
    }
    for q in params {
        if q.lower.is_nan() || q.upper.is_nan() || q.lower > q.upper || !q.initial.is_finite() {
            let message = format!("initial {} and bounds [{}, {}] hold no value", q.initial, q.lower, q.upper);
            return Err(LsqError::BadParam { name: q.name.clone(), message });
        }
    }
    Ok(())
}

fn fit(values: Vec<f64>, residuals: Vec<f64>, iterations: usize) -> LsqFit {
    LsqFit { rmse: rms(&residuals), values, residuals, iterations }
}

fn sum_sq(r: &[f64]) -> f64 {
    r.iter().map(|v| v * v).sum()
}

/// Root mean square (0 for no values).
pub fn rms(r: &[f64]) -> f64 {
    if r.is_empty() {
        0.0
    } else {
        (sum_sq(r) / r.len() as f64).sqrt()
    }
}

enum Step {
    Better { x: Vec<f64>, r: Vec<f64>, cost: f64 },
    Stuck,
}

struct Problem<'a, F> {
    params: &'a [Param],
    options: &'a LsqOptions,
    f: F,
    /// Residual count fixed by the first evaluation (0 before it).
    n: usize,
}

impl<F, E> Problem<'_, F>
where
    F: FnMut(&[f64]) -> Result<Vec<f64>, E>,
{
    fn eval(&mut self, x: &[f64]) -> Result<Vec<f64>, LsqError<E>> {
        let r = (self.f)(x).map_err(LsqError::Residuals)?;
        if self.n != 0 && r.len() != self.n {
            return Err(LsqError::ResidualCount { first: self.n, then: r.len() });
        }
        if let Some(i) = r.iter().position(|v| !v.is_finite()) {
            return Err(LsqError::NotFinite { index: i, value: r[i], at: x.to_vec() });
        }
        Ok(r)
    }

    /// Column `j` is d r / d x_j by a forward (or, at the upper bound, backward) difference.
    fn jacobian(&mut self, x: &[f64], r: &[f64]) -> Result<Vec<Vec<f64>>, LsqError<E>> {
        let mut cols = Vec::with_capacity(x.len());
        for (j, q) in self.params.iter().enumerate() {
            let mut h = self.options.diff_step * x[j].abs().max(0.01);
            if x[j] + h > q.upper {
                h = -h;
            }
            let mut xh = x.to_vec();
            xh[j] = (x[j] + h).clamp(q.lower, q.upper);
            let dh = xh[j] - x[j];
            if dh == 0.0 {
                cols.push(vec![0.0; r.len()]);
                continue;
            }
            let rh = self.eval(&xh)?;
            cols.push(rh.iter().zip(r).map(|(a, b)| (a - b) / dh).collect());
        }
        Ok(cols)
    }

    /// Tries steps with growing damping until one lowers the cost.
    fn damped_step(
        &mut self,
        x: &[f64],
        a: &[Vec<f64>],
        g: &[f64],
        free: &[bool],
        lambda: &mut f64,
        cost: f64,
    ) -> Result<Step, LsqError<E>> {
        while *lambda < 1e12 {
            let Some(delta) = solve_damped(a, g, free, *lambda) else {
                *lambda *= 10.0;
                continue;
            };
            let nx: Vec<f64> =
                x.iter().zip(&delta).zip(self.params).map(|((v, d), q)| (v + d).clamp(q.lower, q.upper)).collect();
            if nx == x {
                return Ok(Step::Stuck);
            }
            let nr = self.eval(&nx)?;
            let ncost = sum_sq(&nr);
            if ncost < cost {
                *lambda = (*lambda / 3.0).max(1e-12);
                return Ok(Step::Better { x: nx, r: nr, cost: ncost });
            }
            *lambda *= 4.0;
        }
        Ok(Step::Stuck)
    }
}

/// `A = JᵀJ`, `g = Jᵀr` from the Jacobian's columns.
fn normal_equations(cols: &[Vec<f64>], r: &[f64]) -> (Vec<Vec<f64>>, Vec<f64>) {
    let m = cols.len();
    let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>();
    let a = (0..m).map(|i| (0..m).map(|j| dot(&cols[i], &cols[j])).collect()).collect();
    let g = cols.iter().map(|c| dot(c, r)).collect();
    (a, g)
}

/// Which parameters may move: not those on a bound that the descent direction `-g`
/// would push further out.
fn free_params(params: &[Param], x: &[f64], g: &[f64]) -> Vec<bool> {
    params
        .iter()
        .zip(x)
        .zip(g)
        .map(|((q, &v), &gi)| !((v <= q.lower && gi > 0.0) || (v >= q.upper && gi < 0.0)))
        .collect()
}

/// Solves `(A + λ diag(A)) δ = -g` over the free parameters (held ones get 0).
fn solve_damped(a: &[Vec<f64>], g: &[f64], free: &[bool], lambda: f64) -> Option<Vec<f64>> {
    let idx: Vec<usize> = (0..g.len()).filter(|&i| free[i]).collect();
    let mut m: Vec<Vec<f64>> = idx
        .iter()
        .map(|&i| {
            let mut row: Vec<f64> = idx.iter().map(|&j| a[i][j]).collect();
            let k = idx.iter().position(|&j| j == i).unwrap_or(0);
            row[k] += lambda * a[i][i].max(1e-12);
            row.push(-g[i]);
            row
        })
        .collect();
    let sol = gauss_solve(&mut m)?;
    let mut delta = vec![0.0; g.len()];
    for (k, &i) in idx.iter().enumerate() {
        delta[i] = sol[k];
    }
    Some(delta)
}

/// Solves the augmented system `m = [A | b]` in place (partial pivoting); `None` when
/// singular.
pub(crate) fn gauss_solve(m: &mut [Vec<f64>]) -> Option<Vec<f64>> {
    let n = m.len();
    for col in 0..n {
        let pivot = (col..n).max_by(|&a, &b| m[a][col].abs().total_cmp(&m[b][col].abs()))?;
        let p = m[pivot][col].abs();
        if p.is_nan() || p <= 1e-300 {
            return None;
        }
        m.swap(col, pivot);
        let (done, below) = m.split_at_mut(col + 1);
        let pivot_row = &done[col];
        for row in below.iter_mut() {
            let f = row[col] / pivot_row[col];
            for (v, p) in row[col..].iter_mut().zip(&pivot_row[col..]) {
                *v -= f * p;
            }
        }
    }
    let mut x = vec![0.0; n];
    for row in (0..n).rev() {
        let s: f64 = (row + 1..n).map(|k| m[row][k] * x[k]).sum();
        x[row] = (m[row][n] - s) / m[row][row];
    }
    x.iter().all(|v| v.is_finite()).then_some(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    type Never = std::convert::Infallible;

    /// Deterministic "noise" in [-1, 1] (a fixed sequence, not a fit input).
    fn wobble(i: usize) -> f64 {
        ((i as f64) * 12.9898).sin()
    }

    #[test]
    fn linear_model_matches_the_closed_form_normal_equations() {
        // y = 2 + 3x - 0.5x² + noise at 20 points; the oracle is the exact least-squares
        // solution of the 3x3 normal equations, solved here by Cramer's rule.
        let xs: Vec<f64> = (0..20).map(|i| i as f64 * 0.5).collect();
        let ys: Vec<f64> = xs.iter().enumerate().map(|(i, x)| 2.0 + 3.0 * x - 0.5 * x * x + 0.3 * wobble(i)).collect();
        let s = |k: i32| xs.iter().map(|x| x.powi(k)).sum::<f64>();
        let t = |k: i32| xs.iter().zip(&ys).map(|(x, y)| x.powi(k) * y).sum::<f64>();
        let a = [[s(0), s(1), s(2)], [s(1), s(2), s(3)], [s(2), s(3), s(4)]];
        let b = [t(0), t(1), t(2)];
        let det3 = |m: [[f64; 3]; 3]| {
            m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1]) - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
                + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0])
        };
        let d = det3(a);
        let oracle: Vec<f64> = (0..3)
            .map(|c| {
                let mut m = a;
                for (row, bv) in m.iter_mut().zip(b) {
                    row[c] = bv;
                }
                det3(m) / d
            })
            .collect();
        let params = [
            Param::new("a", 0.0, -100.0, 100.0),
            Param::new("b", 0.0, -100.0, 100.0),
            Param::new("c", 0.0, -100.0, 100.0),
        ];
        let fit = least_squares(&params, |p: &[f64]| {
            Ok::<_, Never>(xs.iter().zip(&ys).map(|(x, y)| p[0] + p[1] * x + p[2] * x * x - y).collect())
        })
        .unwrap_or_else(|e| panic!("{e}"));
        for (got, want) in fit.values.iter().zip(&oracle) {
            assert!((got - want).abs() < 1e-6, "{:?} vs oracle {oracle:?}", fit.values);
        }
        assert!(fit.rmse > 0.0 && fit.rmse < 0.3, "rmse {}", fit.rmse);
    }

    #[test]
    fn exponential_model_recovers_its_parameters() {
        // y = 5 e^{-0.7 t} + 1 sampled exactly: the fit must find (5, 0.7, 1) from far away.
        let ts: Vec<f64> = (0..30).map(|i| i as f64 * 0.25).collect();
        let ys: Vec<f64> = ts.iter().map(|t| 5.0 * (-0.7 * t).exp() + 1.0).collect();
        let params = [
            Param::new("amp", 1.0, 0.0, 100.0),
            Param::new("rate", 0.1, 0.0, 10.0),
            Param::new("floor", 0.0, -10.0, 10.0),
        ];
        let fit = least_squares(&params, |p: &[f64]| {
            Ok::<_, Never>(ts.iter().zip(&ys).map(|(t, y)| p[0] * (-p[1] * t).exp() + p[2] - y).collect())
        })
        .unwrap_or_else(|e| panic!("{e}"));
        for (got, want) in fit.values.iter().zip([5.0, 0.7, 1.0]) {
            assert!((got - want).abs() < 1e-5, "{:?}", fit.values);
        }
        assert!(fit.rmse < 1e-6);
    }

    #[test]
    fn a_bound_holds_the_parameter_at_the_constrained_optimum() {
        // min (x - 3)² with x <= 2: the answer is the bound, 2.
        let fit = least_squares(&[Param::new("x", 0.0, -5.0, 2.0)], |p: &[f64]| Ok::<_, Never>(vec![p[0] - 3.0]))
            .unwrap_or_else(|e| panic!("{e}"));
        assert!((fit.values[0] - 2.0).abs() < 1e-12, "{:?}", fit.values);
        assert!((fit.rmse - 1.0).abs() < 1e-9);
    }

    #[test]
    fn non_convergence_and_bad_input_are_reported() {
        // Rosenbrock's valley from (-1.2, 1) takes far more than 3 iterations.
        let rosen = |p: &[f64]| Ok::<_, Never>(vec![10.0 * (p[1] - p[0] * p[0]), 1.0 - p[0]]);
        let params = [Param::new("x", -1.2, -10.0, 10.0), Param::new("y", 1.0, -10.0, 10.0)];
        let options = LsqOptions { max_iterations: 3, ..LsqOptions::default() };
        let e = least_squares_with(&params, &options, rosen).err();
        assert!(matches!(e, Some(LsqError::NoConvergence { iterations: 3, .. })), "{e:?}");
        // With room it reaches (1, 1).
        let fit = least_squares(&params, rosen).unwrap_or_else(|e| panic!("{e}"));
        assert!((fit.values[0] - 1.0).abs() < 1e-6 && (fit.values[1] - 1.0).abs() < 1e-6, "{:?}", fit.values);
        let e = least_squares(&params, |_: &[f64]| Ok::<_, Never>(vec![1.0])).err();
        assert!(matches!(e, Some(LsqError::TooFewResiduals { residuals: 1, params: 2 })), "{e:?}");
        let e = least_squares(&params, |_: &[f64]| Ok::<_, Never>(vec![f64::NAN, 1.0])).err();
        assert!(matches!(e, Some(LsqError::NotFinite { .. })), "{e:?}");
        let e = least_squares(&[Param::new("s", 1.0, 2.0, 0.0)], |_: &[f64]| Ok::<_, Never>(vec![1.0])).err();
        assert!(e.is_some_and(|e| e.to_string().contains("parameter s")));
        let e = least_squares(&params, |_: &[f64]| Err::<Vec<f64>, _>("sim failed")).err();
        assert!(matches!(e, Some(LsqError::Residuals("sim failed"))));
    }
}
