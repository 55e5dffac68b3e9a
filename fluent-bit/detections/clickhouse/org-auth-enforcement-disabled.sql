-- 209833cd-b6e6-5353-8989-d789cf739e73 high Hugging Face organization authentication enforcement disabled
-- Network authentication enforcement was switched off for the organization. Granular event
-- org.settings.network.auth_enforcement.disable, or a legacy org.update_settings event. Legacy events
-- (org.update_settings, before 2026-06-16) carry the change only in data, whose shape the Hub does not
-- document. This rule assumes one of: {"setting": NAME, "old": ..., "new": VALUE}, {NAME: VALUE},
-- {NAME: {"old": ..., "new": VALUE}} or {"changes": {NAME: VALUE}}, with NAME one of authEnforcement,
-- enforceAuthentication and VALUE "false". A legacy change in any other shape is still caught by the
-- rule 'Organization settings changed'.
SELECT eventID, eventTime, eventName, authorUser, srcIP, locationCountry, message
FROM huggingface_logs FINAL
WHERE eventName = 'org.settings.network.auth_enforcement.disable' OR eventName = 'org.update_settings' AND ((tags['data.setting'] IN ('authEnforcement', 'enforceAuthentication')) AND tags['data.new'] = 'false' OR tags['data.authEnforcement'] = 'false' OR tags['data.enforceAuthentication'] = 'false' OR tags['data.authEnforcement.new'] = 'false' OR tags['data.enforceAuthentication.new'] = 'false' OR tags['data.changes.authEnforcement'] = 'false' OR tags['data.changes.enforceAuthentication'] = 'false')
ORDER BY eventTime, eventID
