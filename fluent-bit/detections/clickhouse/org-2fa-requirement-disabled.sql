-- a44e714e-1008-51e9-90bc-5518fb1b1c3f high Hugging Face organization two-factor requirement disabled
-- The organization no longer requires two-factor authentication from its members. Granular event
-- org.settings.security.2fa.disable, or a legacy org.update_settings event. Legacy events
-- (org.update_settings, before 2026-06-16) carry the change only in data, whose shape the Hub does not
-- document. This rule assumes one of: {"setting": NAME, "old": ..., "new": VALUE}, {NAME: VALUE},
-- {NAME: {"old": ..., "new": VALUE}} or {"changes": {NAME: VALUE}}, with NAME one of requireTwoFactor,
-- twoFactorRequired and VALUE "false". A legacy change in any other shape is still caught by the rule
-- 'Organization settings changed'.
SELECT eventID, eventTime, eventName, authorUser, srcIP, locationCountry, message
FROM huggingface_logs FINAL
WHERE eventName = 'org.settings.security.2fa.disable' OR eventName = 'org.update_settings' AND ((tags['data.setting'] IN ('requireTwoFactor', 'twoFactorRequired')) AND tags['data.new'] = 'false' OR tags['data.requireTwoFactor'] = 'false' OR tags['data.twoFactorRequired'] = 'false' OR tags['data.requireTwoFactor.new'] = 'false' OR tags['data.twoFactorRequired.new'] = 'false' OR tags['data.changes.requireTwoFactor'] = 'false' OR tags['data.changes.twoFactorRequired'] = 'false')
ORDER BY eventTime, eventID
