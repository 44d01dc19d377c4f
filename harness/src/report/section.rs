//! How a command extends the results file and the report: [`Extended`] (the run's
//! results with the command's section flattened beside them) and [`Section`] (the
//! section's tables, checks and report document). `gate`, `drill` and `plan` implement
//! it; `report` itself knows no command.

use serde::{Deserialize, Serialize};

use super::doc::Doc;
use super::results::Results;

/// A command's `results.json`: the run's [`Results`] with the command's own section
/// flattened beside it (`gate`, `drills`, `plan`). `run` writes plain [`Results`];
/// `gate`, `drill` and `plan` each write `Extended<TheirSection>`: the one way a command
/// extends the results file, so `report` knows no command.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Extended<E> {
    /// The common part, as `run` writes it.
    #[serde(flatten)]
    pub run: Results,
    /// The command's own part.
    #[serde(flatten)]
    pub ext: E,
}

/// A command's section of the results file, and its part of the report document.
pub trait Section: Sized {
    /// Adds the section's tables and checks (JUnit cases) to the report document.
    fn add_to(&self, doc: &mut Doc);

    /// The report document of `results`: the run's, with this section's tables and
    /// checks and the run's charts. A command whose verdict, title or charts differ
    /// from the run's overrides it.
    fn doc(results: &Extended<Self>) -> Doc {
        let mut doc = Doc::from_results(&results.run);
        results.ext.add_to(&mut doc);
        doc.figures = super::figures::for_results(&results.run, &[]);
        doc
    }
}
