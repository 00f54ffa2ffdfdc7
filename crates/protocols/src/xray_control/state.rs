//! The persisted control-plane state of one account and region — sampling rules, groups, tags
//! and the account settings — with one method per API operation: wire request in, wire
//! response out (validation, then the change, then tags).

use serde::{Deserialize, Serialize};

use super::groups::{ExpressionCheck, Groups};
use super::rules::SamplingRules;
use super::shapes::{
    CreateGroupRequest, CreateGroupResponse, CreateSamplingRuleRequest, CreateSamplingRuleResponse,
    DeleteGroupRequest, DeleteGroupResponse, DeleteSamplingRuleRequest, DeleteSamplingRuleResponse,
    EmptyResponse, EncryptionConfig, EncryptionConfigResponse, GetGroupRequest, GetGroupResponse,
    GetGroupsRequest, GetGroupsResponse, GetSamplingRulesRequest, GetSamplingRulesResponse,
    ListTagsForResourceRequest, ListTagsForResourceResponse, PutEncryptionConfigRequest,
    SamplingRuleRecordResponse, TagResourceRequest, TraceSegmentDestinationResponse,
    UntagResourceRequest, UpdateGroupRequest, UpdateGroupResponse, UpdateSamplingRuleRequest,
    UpdateSamplingRuleResponse, UpdateTraceSegmentDestinationRequest,
};
use super::tags::ResourceTags;
use super::{validate, ControlError, Partition};

/// Message for tagging an ARN we do not hold **[inference]**.
pub const MSG_RESOURCE_NOT_FOUND: &str = "Resource not found";

/// Everything the control plane persists (one store document).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ControlState {
    pub rules: SamplingRules,
    pub groups: Groups,
    pub tags: ResourceTags,
    pub encryption: EncryptionConfig,
    pub destination: TraceSegmentDestinationResponse,
}

impl ControlState {
    /// A fresh account: the Default rule and group, no encryption (`NONE`, `ACTIVE`), segments
    /// to X-Ray (`XRay`, `ACTIVE`).
    pub fn new(partition: Partition, now: f64) -> Self {
        Self {
            rules: SamplingRules::new(partition.clone(), now),
            groups: Groups::new(partition),
            tags: ResourceTags::new(),
            encryption: EncryptionConfig {
                key_id: None,
                status: "ACTIVE".into(),
                r#type: "NONE".into(),
            },
            destination: TraceSegmentDestinationResponse {
                destination: "XRay".into(),
                status: "ACTIVE".into(),
            },
        }
    }

    /// `POST /CreateSamplingRule`.
    pub fn create_sampling_rule(
        &mut self,
        req: &CreateSamplingRuleRequest,
        now: f64,
    ) -> Result<CreateSamplingRuleResponse, ControlError> {
        let (rule, tags) = validate::create_sampling_rule(req)?;
        let arn = self.rules.arn_for(&rule.rule_name);
        if self.rules.get(&rule.rule_name).is_none() {
            self.tags.check(&arn, &tags)?;
        }
        let record = self.rules.create(rule, now)?;
        self.tags.tag(&arn, &tags)?;
        Ok(SamplingRuleRecordResponse {
            sampling_rule_record: record,
        })
    }

    /// `POST /UpdateSamplingRule`.
    pub fn update_sampling_rule(
        &mut self,
        req: &UpdateSamplingRuleRequest,
        now: f64,
    ) -> Result<UpdateSamplingRuleResponse, ControlError> {
        let update = validate::update_sampling_rule(req)?;
        let record = self.rules.update(&update, now)?;
        Ok(SamplingRuleRecordResponse {
            sampling_rule_record: record,
        })
    }

    /// `POST /DeleteSamplingRule`.
    pub fn delete_sampling_rule(
        &mut self,
        req: &DeleteSamplingRuleRequest,
        now: f64,
    ) -> Result<DeleteSamplingRuleResponse, ControlError> {
        let r = validate::delete_sampling_rule(req)?;
        let record = self.rules.delete(&r, now)?;
        self.tags.remove(&record.sampling_rule.rule_arn);
        Ok(SamplingRuleRecordResponse {
            sampling_rule_record: record,
        })
    }

    /// `POST /GetSamplingRules`: one page, whatever NextToken says (there is never a second).
    pub fn get_sampling_rules(&self, _req: &GetSamplingRulesRequest) -> GetSamplingRulesResponse {
        self.rules.get_sampling_rules()
    }

    /// `POST /CreateGroup`.
    pub fn create_group(
        &mut self,
        req: &CreateGroupRequest,
        check: ExpressionCheck<'_>,
        random: &mut dyn FnMut(&mut [u8]),
    ) -> Result<CreateGroupResponse, ControlError> {
        let g = validate::create_group(req)?;
        // Tags are checked against an empty resource before anything changes.
        ResourceTags::new().check("", &g.tags)?;
        let group = self.groups.create(&g, check, random)?;
        self.tags.tag(&group.group_arn, &g.tags)?;
        Ok(CreateGroupResponse { group })
    }

    /// `POST /GetGroup`.
    pub fn get_group(&self, req: &GetGroupRequest) -> Result<GetGroupResponse, ControlError> {
        let r = validate::group_ref(req)?;
        Ok(GetGroupResponse {
            group: self.groups.get(&r)?,
        })
    }

    /// `POST /Groups`.
    pub fn get_groups(&self, req: &GetGroupsRequest) -> Result<GetGroupsResponse, ControlError> {
        validate::get_groups(req)?;
        Ok(self.groups.list())
    }

    /// `POST /UpdateGroup`.
    pub fn update_group(
        &mut self,
        req: &UpdateGroupRequest,
        check: ExpressionCheck<'_>,
    ) -> Result<UpdateGroupResponse, ControlError> {
        let r = validate::update_group(req)?;
        let group = self.groups.update(
            &r,
            req.filter_expression.as_ref(),
            req.insights_configuration,
            check,
        )?;
        Ok(UpdateGroupResponse { group })
    }

    /// `POST /DeleteGroup`.
    pub fn delete_group(
        &mut self,
        req: &DeleteGroupRequest,
    ) -> Result<DeleteGroupResponse, ControlError> {
        let r = validate::group_ref(req)?;
        let g = self.groups.delete(&r)?;
        self.tags.remove(&g.group_arn);
        Ok(EmptyResponse {})
    }

    fn require_resource(&self, arn: &str) -> Result<(), ControlError> {
        if self.rules.contains_arn(arn) || self.groups.contains_arn(arn) {
            Ok(())
        } else {
            Err(ControlError::ResourceNotFound {
                message: MSG_RESOURCE_NOT_FOUND.into(),
                resource_name: Some(arn.to_string()),
            })
        }
    }

    /// `POST /TagResource`.
    pub fn tag_resource(
        &mut self,
        req: &TagResourceRequest,
    ) -> Result<EmptyResponse, ControlError> {
        let (arn, tags) = validate::tag_resource(req)?;
        self.require_resource(&arn)?;
        self.tags.tag(&arn, &tags)?;
        Ok(EmptyResponse {})
    }

    /// `POST /UntagResource`.
    pub fn untag_resource(
        &mut self,
        req: &UntagResourceRequest,
    ) -> Result<EmptyResponse, ControlError> {
        let (arn, keys) = validate::untag_resource(req)?;
        self.require_resource(&arn)?;
        self.tags.untag(&arn, &keys);
        Ok(EmptyResponse {})
    }

    /// `POST /ListTagsForResource`: one page (≤ 50 tags).
    pub fn list_tags_for_resource(
        &self,
        req: &ListTagsForResourceRequest,
    ) -> Result<ListTagsForResourceResponse, ControlError> {
        let arn = validate::list_tags_for_resource(req)?;
        self.require_resource(&arn)?;
        Ok(ListTagsForResourceResponse {
            tags: self.tags.list(&arn),
            next_token: None,
        })
    }

    /// `POST /EncryptionConfig` (GetEncryptionConfig).
    pub fn get_encryption_config(&self) -> EncryptionConfigResponse {
        EncryptionConfigResponse {
            encryption_config: self.encryption.clone(),
        }
    }

    /// `POST /PutEncryptionConfig`: recorded and reported `ACTIVE` at once (we encrypt
    /// nothing; the setting is kept so clients read back what they wrote).
    pub fn put_encryption_config(
        &mut self,
        req: &PutEncryptionConfigRequest,
    ) -> Result<EncryptionConfigResponse, ControlError> {
        validate::put_encryption_config(req)?;
        let kms = req.r#type.as_deref() == Some("KMS");
        self.encryption = EncryptionConfig {
            key_id: if kms { req.key_id.clone() } else { None },
            status: "ACTIVE".into(),
            r#type: req.r#type.clone().unwrap_or_else(|| "NONE".into()),
        };
        Ok(self.get_encryption_config())
    }

    /// `POST /GetTraceSegmentDestination`.
    pub fn get_trace_segment_destination(&self) -> TraceSegmentDestinationResponse {
        self.destination.clone()
    }

    /// `POST /UpdateTraceSegmentDestination`.
    pub fn update_trace_segment_destination(
        &mut self,
        req: &UpdateTraceSegmentDestinationRequest,
    ) -> Result<TraceSegmentDestinationResponse, ControlError> {
        validate::update_trace_segment_destination(req)?;
        if let Some(d) = &req.destination {
            self.destination.destination.clone_from(d);
        }
        Ok(self.destination.clone())
    }
}
