-- 542fd635-1312-56cd-bcea-c9c10d019efc medium Hugging Face organization auto-join enabled
-- Anyone with an e-mail address of the organization's domain can now join it without an invitation.
-- Granular event org.settings.security.auto_join.enable, or a legacy org.update_settings event. Legacy
-- events (org.update_settings, before 2026-06-16) carry the change only in data, whose shape the Hub
-- does not document. This rule assumes one of: {"setting": NAME, "old": ..., "new": VALUE}, {NAME:
-- VALUE}, {NAME: {"old": ..., "new": VALUE}} or {"changes": {NAME: VALUE}}, with NAME one of autoJoin,
-- autoJoinEnabled and VALUE "true". A legacy change in any other shape is still caught by the rule
-- 'Organization settings changed'.
SELECT eventID, eventTime, eventName, authorUser, srcIP, locationCountry, message
FROM huggingface_logs FINAL
WHERE eventName = 'org.settings.security.auto_join.enable' OR eventName = 'org.update_settings' AND ((tags['data.setting'] IN ('autoJoin', 'autoJoinEnabled')) AND tags['data.new'] = 'true' OR tags['data.autoJoin'] = 'true' OR tags['data.autoJoinEnabled'] = 'true' OR tags['data.autoJoin.new'] = 'true' OR tags['data.autoJoinEnabled.new'] = 'true' OR tags['data.changes.autoJoin'] = 'true' OR tags['data.changes.autoJoinEnabled'] = 'true')
ORDER BY eventTime, eventID
