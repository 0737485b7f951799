#![allow(dead_code)]
mod aws;
mod faults;
mod policy;
mod resources;
mod spec;
fn main() {}
