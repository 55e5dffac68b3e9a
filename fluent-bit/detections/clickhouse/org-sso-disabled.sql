-- bf66e95e-1e4c-533a-8435-d6a01d8b226c high Hugging Face organization SSO disabled
-- Single sign-on was switched off for the organization: members can sign in without the identity
-- provider's controls (MFA, offboarding). Granular event org.settings.sso.disable, or a legacy
-- org.update_settings event. Legacy events (org.update_settings, before 2026-06-16) carry the change
-- only in data, whose shape the Hub does not document. This rule assumes one of: {"setting": NAME,
-- "old": ..., "new": VALUE}, {NAME: VALUE}, {NAME: {"old": ..., "new": VALUE}} or {"changes": {NAME:
-- VALUE}}, with NAME one of sso, ssoEnabled, requireSso and VALUE "false". A legacy change in any
-- other shape is still caught by the rule 'Organization settings changed'.
SELECT eventID, eventTime, eventName, authorUser, srcIP, locationCountry, message
FROM huggingface_logs FINAL
WHERE eventName = 'org.settings.sso.disable' OR eventName = 'org.update_settings' AND ((tags['data.setting'] IN ('sso', 'ssoEnabled', 'requireSso')) AND tags['data.new'] = 'false' OR tags['data.sso'] = 'false' OR tags['data.ssoEnabled'] = 'false' OR tags['data.requireSso'] = 'false' OR tags['data.sso.new'] = 'false' OR tags['data.ssoEnabled.new'] = 'false' OR tags['data.requireSso.new'] = 'false' OR tags['data.changes.sso'] = 'false' OR tags['data.changes.ssoEnabled'] = 'false' OR tags['data.changes.requireSso'] = 'false')
ORDER BY eventTime, eventID
