//! The one bootstrap every function of the stack deploys. Lambda starts a custom runtime's
//! `bootstrap` with the function's Handler setting in `_HANDLER` ("The handler location
//! configured on the function": Lambda developer guide, "Defined runtime environment variables");
//! the template sets each function's Handler to the name of its crate, and [`Function::serve`]
//! runs that crate's Lambda. Each crate keeps a binary of its own for `cargo lambda watch`.
//!
//! Why one: the release profile links with fat LTO, about 45 s of one core per binary, and the
//! seven functions share nearly all of their code (the AWS SDK, the Lambda runtime, `sparkify`);
//! one binary is one link instead of seven (docs/performance.md, "One bootstrap for the seven
//! functions").

use std::fmt;

/// Declares [`Function`] from one row per function crate, so that the Handler that names a
/// function and the Lambda it serves come from the same crate.
macro_rules! functions {
    ($($function:ident: $krate:ident),* $(,)?) => {
        /// The functions this bootstrap serves.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Function {
            $($function),*
        }

        impl Function {
            pub const ALL: [Function; [$(Function::$function),*].len()] = [$(Function::$function),*];

            /// The Handler setting that names it: its crate's package name (`NAME`).
            pub const fn handler(self) -> &'static str {
                match self {
                    $(Function::$function => $krate::NAME),*
                }
            }

            /// Runs its crate's Lambda on the Runtime API until the process ends. Each future is
            /// boxed: one future of all seven nests too deep for the compiler's layout of it.
            pub async fn serve(self) -> Result<(), lambda_runtime::Error> {
                match self {
                    $(Function::$function => Box::pin($krate::serve()).await),*
                }
            }
        }
    };
}

functions! {
    CreateTables: create_tables,
    CopyStaging: copy_staging,
    LoadFacts: load_facts,
    LoadDimensions: load_dimensions,
    VerifyCounts: verify_counts,
    Warehouse: warehouse,
    EmptyManifests: empty_manifests,
}

impl Function {
    /// The function `_HANDLER` names.
    pub fn from_handler(handler: Option<&str>) -> Result<Self, UnknownHandler> {
        Self::ALL
            .into_iter()
            .find(|function| Some(function.handler()) == handler)
            .ok_or_else(|| UnknownHandler(handler.map(str::to_owned)))
    }
}

/// `_HANDLER` names no function of this bootstrap: the template and the build disagree. An error
/// at init: the process ends before it takes an invocation, and Lambda reports
/// `Runtime.ExitError` with this message in the function's log.
#[derive(Clone, PartialEq, Eq)]
pub struct UnknownHandler(pub Option<String>);

/// What `main` prints of the error it returns (`Error: {:?}`): the message.
impl fmt::Debug for UnknownHandler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for UnknownHandler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Some(handler) => write!(f, "_HANDLER is {handler:?}")?,
            None => write!(f, "_HANDLER is not set")?,
        }
        let names: Vec<&str> = Function::ALL.iter().map(|f| f.handler()).collect();
        write!(
            f,
            ": this bootstrap serves the function its Handler setting names, one of {}",
            names.join(", ")
        )
    }
}

impl std::error::Error for UnknownHandler {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_handler_names_its_function_and_nothing_else_names_one() {
        for function in Function::ALL {
            assert_eq!(
                Function::from_handler(Some(function.handler())),
                Ok(function)
            );
        }
        for wrong in ["bootstrap", "CopyStaging", "copy_staging", ""] {
            let err = Function::from_handler(Some(wrong)).unwrap_err();
            assert_eq!(err, UnknownHandler(Some(wrong.to_owned())));
            assert!(
                err.to_string()
                    .contains("one of create-tables, copy-staging"),
                "{err}"
            );
        }
        assert_eq!(
            Function::from_handler(None).unwrap_err().to_string(),
            "_HANDLER is not set: this bootstrap serves the function its Handler setting names, \
             one of create-tables, copy-staging, load-facts, load-dimensions, verify-counts, \
             warehouse, empty-manifests"
        );
    }
}
