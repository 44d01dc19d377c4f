//! The shipped scenarios run and pass against the embedded mocks.
