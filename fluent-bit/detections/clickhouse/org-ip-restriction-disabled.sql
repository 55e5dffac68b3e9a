-- a391f156-e0e3-5298-bc1f-ea3fc662d327 high Hugging Face organization IP restriction disabled
-- The organization's IP allow-list was switched off: its resources are reachable from any network
-- again. Granular event org.settings.network.ip_restriction.disable, or a legacy org.update_settings
-- event. Legacy events (org.update_settings, before 2026-06-16) carry the change only in data, whose
-- shape the Hub does not document. This rule assumes one of: {"setting": NAME, "old": ..., "new":
-- VALUE}, {NAME: VALUE}, {NAME: {"old": ..., "new": VALUE}} or {"changes": {NAME: VALUE}}, with NAME
-- one of ipRestriction, ipRestrictionEnabled and VALUE "false". A legacy change in any other shape is
-- still caught by the rule 'Organization settings changed'.
SELECT eventID, eventTime, eventName, authorUser, srcIP, locationCountry, message
FROM huggingface_logs FINAL
WHERE eventName = 'org.settings.network.ip_restriction.disable' OR eventName = 'org.update_settings' AND ((tags['data.setting'] IN ('ipRestriction', 'ipRestrictionEnabled')) AND tags['data.new'] = 'false' OR tags['data.ipRestriction'] = 'false' OR tags['data.ipRestrictionEnabled'] = 'false' OR tags['data.ipRestriction.new'] = 'false' OR tags['data.ipRestrictionEnabled.new'] = 'false' OR tags['data.changes.ipRestriction'] = 'false' OR tags['data.changes.ipRestrictionEnabled'] = 'false')
ORDER BY eventTime, eventID
