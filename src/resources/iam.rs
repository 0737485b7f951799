//! `iam.*` (being written).

use async_trait::async_trait;
use serde_json::Value;

use super::{Ctx, Decl, DeleteTarget, Observed, Reconciler};
use crate::aws::AwsError;
use crate::spec::render::Renderer;
use crate::spec::{LoadedSpec, SpecError};

pub struct Iam;

#[async_trait]
impl Reconciler for Iam {
    fn kind(&self) -> &'static str {
        "iam"
    }
    fn decls(&self, _spec: &LoadedSpec, _r: &Renderer) -> Result<Vec<Decl>, SpecError> {
        Ok(Vec::new())
    }
    fn desired(&self, _spec: &LoadedSpec, _decl: &Decl, _r: &Renderer) -> Result<Value, SpecError> {
        unimplemented!()
    }
    async fn observe(&self, _cx: &Ctx<'_>, decl: &Decl) -> Result<Observed, AwsError> {
        Ok(Observed::absent(&decl.address))
    }
    async fn create(
        &self,
        _cx: &Ctx<'_>,
        _decl: &Decl,
        _desired: &Value,
    ) -> Result<Value, AwsError> {
        unimplemented!()
    }
    async fn update(
        &self,
        _cx: &Ctx<'_>,
        _decl: &Decl,
        _desired: &Value,
        _observed: &Observed,
        _changed: &[String],
    ) -> Result<Value, AwsError> {
        unimplemented!()
    }
    async fn delete(&self, _cx: &Ctx<'_>, _t: &DeleteTarget<'_>) -> Result<(), AwsError> {
        unimplemented!()
    }
}
