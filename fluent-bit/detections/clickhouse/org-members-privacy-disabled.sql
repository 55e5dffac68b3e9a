-- b8a37665-09aa-530a-9195-e59c93876081 medium Hugging Face organization members privacy disabled
-- The organization's member list is no longer private: outsiders can enumerate members (targets for
-- phishing). Granular event org.settings.security.members_privacy.disable, or a legacy
-- org.update_settings event. Legacy events (org.update_settings, before 2026-06-16) carry the change
-- only in data, whose shape the Hub does not document. This rule assumes one of: {"setting": NAME,
-- "old": ..., "new": VALUE}, {NAME: VALUE}, {NAME: {"old": ..., "new": VALUE}} or {"changes": {NAME:
-- VALUE}}, with NAME one of membersPrivacy, hideMembers and VALUE "false". A legacy change in any
-- other shape is still caught by the rule 'Organization settings changed'.
SELECT eventID, eventTime, eventName, authorUser, srcIP, locationCountry, message
FROM huggingface_logs FINAL
WHERE eventName = 'org.settings.security.members_privacy.disable' OR eventName = 'org.update_settings' AND ((tags['data.setting'] IN ('membersPrivacy', 'hideMembers')) AND tags['data.new'] = 'false' OR tags['data.membersPrivacy'] = 'false' OR tags['data.hideMembers'] = 'false' OR tags['data.membersPrivacy.new'] = 'false' OR tags['data.hideMembers.new'] = 'false' OR tags['data.changes.membersPrivacy'] = 'false' OR tags['data.changes.hideMembers'] = 'false')
ORDER BY eventTime, eventID
