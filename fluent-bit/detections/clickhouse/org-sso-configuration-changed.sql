-- cad708cf-cf05-5180-b499-bb8fdaac8b19 medium Hugging Face organization SSO configuration changed
-- The organization's single sign-on configuration was changed or SSO was enabled: a changed identity
-- provider decides who can sign in.
SELECT eventID, eventTime, eventName, authorUser, srcIP, locationCountry, message
FROM huggingface_logs FINAL
WHERE eventName IN ('org.settings.sso', 'org.settings.sso.enable')
ORDER BY eventTime, eventID
