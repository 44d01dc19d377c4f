//! One module per fault, all of the same shape (see [`super::fault`]).
